import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import { ReelfluxError } from '../ReelfluxError.js';
import { readGraphQLAnswer } from './readGraphQLAnswer.js';

export interface GraphQLRequest<TResult, TVariables> {
  /** The router's GraphQL endpoint, e.g. `http://127.0.0.1:4000/graphql` or `/graphql`. */
  url: string;
  /** Sent as `Authorization: Bearer …` when given. */
  token?: string | undefined;
  document: TypedDocumentNode<TResult, TVariables>;
  variables: TVariables;
  signal?: AbortSignal | undefined;
}

/**
 * One query or mutation as JSON over HTTP with `fetch` (Node 20+ and browsers alike); resolves
 * with `data`, rejects with a ReelfluxError: the server's code, or NETWORK_ERROR when it could
 * not be reached or answered no GraphQL.
 */
export async function postGraphQL<TResult, TVariables>(
  request: GraphQLRequest<TResult, TVariables>,
): Promise<TResult> {
  let response: Response;
  let text: string;
  try {
    response = await fetch(request.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...bearer(request.token) },
      body: JSON.stringify({ query: print(request.document), variables: request.variables }),
      ...(request.signal ? { signal: request.signal } : {}),
    });
    text = await response.text();
  } catch (error) {
    throw request.signal?.aborted
      ? new ReelfluxError('CANCELLED', 'request cancelled', { cause: error })
      : new ReelfluxError('NETWORK_ERROR', `cannot reach ${request.url}: ${String(error)}`, {
          cause: error,
        });
  }
  return readGraphQLAnswer(request.url, response.status, text);
}

/** The Authorization header for a token, or none. */
export function bearer(token: string | undefined): Record<string, string> {
  return token ? { authorization: `Bearer ${token}` } : {};
}
