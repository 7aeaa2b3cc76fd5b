import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import { CloseCode, createClient, type Client, type ClientOptions } from 'graphql-ws';
import { ErrorCode } from '../../lib/contracts/errorCodes.js';
import { ReelfluxError, SdkErrorCode, type ServerError } from '../ReelfluxError.js';
import { bearer } from './postGraphQL.js';

export interface SubscriptionSocketOptions extends Omit<
  ClientOptions,
  'url' | 'connectionParams' | 'shouldRetry'
> {
  /** The GraphQL endpoint over HTTP(S); the socket is the same URL as ws(s). */
  url: string;
  /** Sent in the connection's initial payload as `authorization: Bearer …`. */
  token?: string | undefined;
}

/**
 * A graphql-ws client for the router, from Node (give `webSocketImpl`, e.g. `ws`) or a
 * browser. It retries as its options say, except when the token was refused, which no retry
 * mends (graphql-ws itself gives up on 4401; 4403 is left to `shouldRetry`).
 */
export function createSubscriptionSocket(options: SubscriptionSocketOptions): Client {
  const { url, token, ...rest } = options;
  return createClient({
    ...rest,
    url: url.replace(/^http/, 'ws'),
    connectionParams: bearer(token),
    shouldRetry: (event) => !isTokenRefused(event),
  });
}

export interface SubscriptionSink<TResult> {
  next(data: TResult): void;
  /** The subscription ends with this; no `complete` follows. */
  error(error: ReelfluxError): void;
  complete(): void;
}

/**
 * One subscription on `socket`: each answer's `data` to `next`, or a ReelfluxError to `error`
 * (an answer with errors, a refused or lost socket). Returns the unsubscribe function.
 */
export function subscribe<TResult, TVariables extends Record<string, unknown>>(
  socket: Client,
  document: TypedDocumentNode<TResult, TVariables>,
  variables: TVariables,
  sink: SubscriptionSink<TResult>,
): () => void {
  let ended = false;
  const fail = (error: ReelfluxError) => {
    if (ended) return;
    ended = true;
    stop();
    sink.error(error);
  };
  const stop = socket.subscribe<TResult>(
    { query: print(document), variables },
    {
      next: (result) => {
        if (result.errors?.length || !result.data) fail(subscriptionFailure(result.errors));
        else if (!ended) sink.next(result.data);
      },
      error: (error) => fail(subscriptionFailure(error)),
      complete: () => {
        if (!ended) sink.complete();
        ended = true;
      },
    },
  );
  return () => {
    ended = true;
    stop();
  };
}

function isCloseEvent(event: unknown): event is { code: number; reason: string } {
  return typeof event === 'object' && event !== null && 'code' in event && 'reason' in event;
}

/** The router closed the socket because of its token (missing, expired, account deleted). */
export function isTokenRefused(event: unknown): boolean {
  return (
    isCloseEvent(event) &&
    [CloseCode.Unauthorized, CloseCode.Forbidden].some((code) => code.valueOf() === event.code)
  );
}

/** graphql-ws fails with an array of GraphQL errors, a CloseEvent, or an error event. */
export function subscriptionFailure(error: unknown): ReelfluxError {
  if (Array.isArray(error)) return ReelfluxError.fromErrors(error as ServerError[]);
  if (isCloseEvent(error)) {
    const { code, reason } = error;
    const mapped = isTokenRefused(error)
      ? ErrorCode.UNAUTHENTICATED
      : SdkErrorCode.CONNECTION_CLOSED;
    return new ReelfluxError(mapped, `subscription socket closed (${code} ${reason})`);
  }
  const message =
    typeof error === 'object' && error !== null && 'message' in error
      ? String(error.message)
      : String(error);
  return new ReelfluxError('NETWORK_ERROR', `subscription failed: ${message}`, { cause: error });
}
