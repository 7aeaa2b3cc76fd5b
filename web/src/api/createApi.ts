import {
  Client,
  fetchExchange,
  subscriptionExchange,
  type CombinedError,
  type ExecutionResult,
} from '@urql/core';
import { createClient as createWebSocketClient } from 'graphql-ws';
import { ClientErrorCode, type ProblemFacts } from './describeError.js';

/** The page's way to the API: one urql client over HTTP, with subscriptions over graphql-ws. */
export interface Api {
  readonly client: Client;
  /**
   * Calls `listener` each time the WebSocket is back after a drop (a router restart, a lost
   * network). Subscriptions resume by themselves; what they missed meanwhile, such as a
   * conversion that ended, the page reloads here. Returns the unsubscribe function.
   */
  onReconnect(listener: () => void): () => void;
  /** Closes the WebSocket; for logging out. */
  dispose(): void;
}

/** Both on the router that served the page: the same origin, so the CSP can stay `'self'`. */
const GRAPHQL_PATH = '/graphql';

export function createApi(token: string | undefined): Api {
  const authorization = token ? `Bearer ${token}` : undefined;
  const reconnectListeners = new Set<() => void>();
  const socket = createWebSocketClient({
    url: new URL(GRAPHQL_PATH, location.href).href.replace(/^http/, 'ws'),
    // A watch must outlive a router restart: retry for as long as the page is open, with
    // graphql-ws's randomised back-off.
    retryAttempts: Number.POSITIVE_INFINITY,
    shouldRetry: () => true,
    connectionParams: authorization ? { authorization } : {},
    on: {
      connected: (_socket, _payload, wasRetry) => {
        if (wasRetry) for (const listener of reconnectListeners) listener();
      },
    },
  });
  const client = new Client({
    url: GRAPHQL_PATH,
    requestPolicy: 'network-only',
    fetchOptions: {
      headers: {
        ...(authorization ? { authorization } : {}),
        // Marks multipart uploads as no cross-site form post (Apollo's CSRF prevention).
        'apollo-require-preflight': 'true',
      },
    },
    exchanges: [
      fetchExchange,
      subscriptionExchange({
        forwardSubscription: (request) => ({
          subscribe: (sink) => ({
            unsubscribe: socket.subscribe(
              { ...request, query: request.query ?? '' },
              {
                // graphql-ws may leave `data` out where urql's type says null: the same result.
                next: (result) => sink.next(result as ExecutionResult),
                error: (error) => sink.error(error),
                complete: () => sink.complete(),
              },
            ),
          }),
        }),
      }),
    ],
  });
  return {
    client,
    onReconnect: (listener) => {
      reconnectListeners.add(listener);
      return () => reconnectListeners.delete(listener);
    },
    dispose: () => void socket.dispose(),
  };
}

/** The code and details of an urql error, for `describeError`. */
export function problemOf(error: CombinedError): ProblemFacts {
  const first = error.graphQLErrors[0];
  if (first) {
    const extensions = first.extensions;
    const text = (key: string) =>
      typeof extensions[key] === 'string' ? extensions[key] : undefined;
    const number = (key: string) =>
      typeof extensions[key] === 'number' ? extensions[key] : undefined;
    return {
      code: text('code'),
      reason: text('reason'),
      field: text('field'),
      retryAfterSeconds: number('retryAfterSeconds'),
      limit: number('limit'),
    };
  }
  const aborted = error.networkError?.name === 'AbortError';
  return { code: aborted ? ClientErrorCode.CANCELLED : ClientErrorCode.NETWORK_ERROR };
}
