import {
  Client,
  fetchExchange,
  mapExchange,
  subscriptionExchange,
  type CombinedError,
  type ExecutionResult,
} from '@urql/core';
import { CloseCode, createClient as createWebSocketClient } from 'graphql-ws';
import { ClientErrorCode, ErrorCode } from '../../../lib/contracts/errorCodes.js';
import { describeError, type ProblemFacts } from './describeError.js';

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
/** WebSocket close codes for a token the router will not take. */
const REFUSED_TOKEN: ReadonlySet<number> = new Set([CloseCode.Unauthorized, CloseCode.Forbidden]);
/** The longest wait between two tries to reconnect, so a long outage is noticed soon after. */
const MAX_RETRY_WAIT_MS = 30_000;

/**
 * `onSessionEnded` is called when the server refuses the token (expired, or its account
 * deleted), from any operation or from the WebSocket's handshake.
 */
export function createApi(token: string | undefined, onSessionEnded: () => void): Api {
  const authorization = token ? `Bearer ${token}` : undefined;
  const reconnectListeners = new Set<() => void>();
  const tokenRefused = (code: number) => REFUSED_TOKEN.has(code);
  const socket = createWebSocketClient({
    url: new URL(GRAPHQL_PATH, location.href).href.replace(/^http/, 'ws'),
    // A watch must outlive a router restart: retry for as long as the page is open, except
    // when the token was refused, which no retry mends.
    retryAttempts: Number.POSITIVE_INFINITY,
    shouldRetry: (event) => !(isCloseEvent(event) && tokenRefused(event.code)),
    retryWait: (retries) => {
      const ms = Math.min(MAX_RETRY_WAIT_MS, 1_000 * 2 ** retries) * (0.5 + Math.random() / 2);
      return new Promise((resolve) => setTimeout(resolve, ms));
    },
    // A card that ends one subscription and starts the next keeps the same socket.
    lazyCloseTimeout: 3_000,
    connectionParams: authorization ? { authorization } : {},
    on: {
      connected: (_socket, _payload, wasRetry) => {
        if (wasRetry) for (const listener of reconnectListeners) listener();
      },
      closed: (event) => {
        if (authorization && isCloseEvent(event) && tokenRefused(event.code)) onSessionEnded();
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
      mapExchange({
        onError: (error) => {
          if (authorization && problemOf(error).code === ErrorCode.UNAUTHENTICATED) {
            onSessionEnded();
          }
        },
      }),
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

function isCloseEvent(event: unknown): event is { code: number } {
  return typeof event === 'object' && event !== null && 'code' in event;
}

/** Codes for answers that were not GraphQL (a proxy's error page, say), by HTTP status. */
const CODES_BY_STATUS: Record<number, ErrorCode> = {
  413: ErrorCode.PAYLOAD_TOO_LARGE,
  429: ErrorCode.RATE_LIMITED,
  502: ErrorCode.SERVICE_UNAVAILABLE,
  503: ErrorCode.SERVICE_UNAVAILABLE,
  504: ErrorCode.SERVICE_UNAVAILABLE,
};

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
  if (error.networkError?.name === 'AbortError') return { code: ClientErrorCode.CANCELLED };
  const status = (error.response as { status?: unknown } | undefined)?.status;
  const byStatus = typeof status === 'number' ? CODES_BY_STATUS[status] : undefined;
  return { code: byStatus ?? ClientErrorCode.NETWORK_ERROR };
}

/** The sentence for an urql error. */
export function describeApiError(error: CombinedError, during?: 'logIn'): string {
  return describeError(problemOf(error), during);
}
