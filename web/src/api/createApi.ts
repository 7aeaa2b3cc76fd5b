import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { ClientErrorCode, ErrorCode } from '../../../lib/contracts/errorCodes.js';
import type { ReelfluxError } from '../../../sdk/ReelfluxError.js';
import {
  createSubscriptionSocket,
  isTokenRefused,
  subscribe,
} from '../../../sdk/transport/createSubscriptionSocket.js';
import type { UploadProgress } from '../../../sdk/transport/MultipartRequest.js';
import { postGraphQL } from '../../../sdk/transport/postGraphQL.js';
import { sendMultipartFromBrowser } from '../../../sdk/transport/sendMultipartFromBrowser.js';
import { describeError, type ProblemFacts } from './describeError.js';
import { faststartFile } from './faststartFile.js';

/** An answer's data, or why there is none. */
export type ApiResult<T> =
  { data: T; error?: undefined } | { data?: undefined; error: ReelfluxError };

/**
 * The page's way to the API, over the SDK's transport: queries and mutations over HTTP,
 * uploads with progress, subscriptions over graphql-ws. Nothing here rejects: every failure
 * comes back as the result's `error`.
 */
export interface Api {
  request<TResult, TVariables>(
    document: TypedDocumentNode<TResult, TVariables>,
    variables: TVariables,
  ): Promise<ApiResult<TResult>>;
  /**
   * A mutation with `file` as its `file` variable (an MP4/MOV with its index last is sent in
   * faststart order); `signal` aborts it (error CANCELLED).
   */
  upload<TResult, TVariables>(
    document: TypedDocumentNode<TResult, TVariables>,
    variables: Omit<TVariables, 'file'>,
    file: File,
    transfer: { onProgress: UploadProgress; signal: AbortSignal },
  ): Promise<ApiResult<TResult>>;
  /** Each answer of a subscription; one with an error is its last. Returns the unsubscribe. */
  subscribe<TResult, TVariables extends Record<string, unknown>>(
    document: TypedDocumentNode<TResult, TVariables>,
    variables: TVariables,
    onResult: (result: ApiResult<TResult>) => void,
  ): () => void;
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
/** The longest wait between two tries to reconnect, so a long outage is noticed soon after. */
const MAX_RETRY_WAIT_MS = 30_000;

/**
 * `onSessionEnded` is called when the server refuses the token (expired, or its account
 * deleted), from any operation or from the WebSocket's handshake.
 */
export function createApi(token: string | undefined, onSessionEnded: () => void): Api {
  const url = new URL(GRAPHQL_PATH, location.href).href;
  const reconnectListeners = new Set<() => void>();
  const socket = createSubscriptionSocket({
    url,
    token,
    // A watch must outlive a router restart: retry for as long as the page is open (except
    // when the token was refused, which no retry mends).
    retryAttempts: Number.POSITIVE_INFINITY,
    retryWait: (retries) => {
      const ms = Math.min(MAX_RETRY_WAIT_MS, 1_000 * 2 ** retries) * (0.5 + Math.random() / 2);
      return new Promise((resolve) => setTimeout(resolve, ms));
    },
    // A card that ends one subscription and starts the next keeps the same socket.
    lazyCloseTimeout: 3_000,
    on: {
      connected: (_socket, _payload, wasRetry) => {
        if (wasRetry) for (const listener of reconnectListeners) listener();
      },
      closed: (event) => {
        if (token && isTokenRefused(event)) onSessionEnded();
      },
    },
  });
  const failed = (error: ReelfluxError): ApiResult<never> => {
    if (token && problemOf(error).code === ErrorCode.UNAUTHENTICATED) onSessionEnded();
    return { error };
  };
  const settle = <T>(answer: Promise<T>): Promise<ApiResult<T>> =>
    answer.then((data) => ({ data }), failed);
  return {
    request: (document, variables) => settle(postGraphQL({ url, token, document, variables })),
    upload: (document, variables, file, transfer) =>
      settle(
        faststartFile(file).then((sent) =>
          sendMultipartFromBrowser({ url, token, document, variables, ...transfer }, sent),
        ),
      ),
    subscribe: (document, variables, onResult) =>
      subscribe(socket, document, variables, {
        next: (data) => onResult({ data }),
        error: (error) => onResult(failed(error)),
        complete: () => undefined,
      }),
    onReconnect: (listener) => {
      reconnectListeners.add(listener);
      return () => reconnectListeners.delete(listener);
    },
    dispose: () => void socket.dispose(),
  };
}

/** Codes for answers that were not GraphQL (a proxy's error page, say), by HTTP status. */
const CODES_BY_STATUS: Record<number, ErrorCode> = {
  413: ErrorCode.PAYLOAD_TOO_LARGE,
  429: ErrorCode.RATE_LIMITED,
  502: ErrorCode.SERVICE_UNAVAILABLE,
  503: ErrorCode.SERVICE_UNAVAILABLE,
  504: ErrorCode.SERVICE_UNAVAILABLE,
};

/**
 * The code and details of a failure, for `describeError`: the server's first error as it
 * sent it; else a cancel; else whatever the HTTP status says, or a network error.
 */
export function problemOf(error: ReelfluxError): ProblemFacts {
  const first = error.errors[0];
  if (first) {
    const extensions = first.extensions ?? {};
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
  if (error.code === ClientErrorCode.CANCELLED) return { code: ClientErrorCode.CANCELLED };
  const byStatus = error.status === undefined ? undefined : CODES_BY_STATUS[error.status];
  return { code: byStatus ?? ClientErrorCode.NETWORK_ERROR };
}

/** The sentence for a failure. */
export function describeApiError(error: ReelfluxError, during?: 'logIn'): string {
  return describeError(problemOf(error), during);
}
