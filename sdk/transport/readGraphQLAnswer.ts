import { ReelfluxError, type ServerError } from '../ReelfluxError.js';

/** A GraphQL response body as the server sends it. */
export interface GraphQLBody<T> {
  data?: T | null;
  errors?: ServerError[];
}

/**
 * What one GraphQL answer means, whichever way it came (fetch, Node's http, XMLHttpRequest):
 * its `data`, or a ReelfluxError with the first error's code, or NETWORK_ERROR naming the
 * HTTP status when the body is no GraphQL (a proxy's error page, say).
 */
export function readGraphQLAnswer<T>(url: string, status: number, text: string): T {
  let body: GraphQLBody<T>;
  try {
    body = JSON.parse(text) as GraphQLBody<T>;
  } catch {
    throw new ReelfluxError(
      'NETWORK_ERROR',
      `${url} answered ${status} with no GraphQL body: ${text.slice(0, 200)}`,
      { status },
    );
  }
  if (body.errors?.length) throw ReelfluxError.fromErrors(body.errors, status);
  if (!body.data) throw new ReelfluxError('NETWORK_ERROR', `${url} answered without data`);
  return body.data;
}

/** A transfer that ended without an answer: CANCELLED if the caller aborted, else NETWORK_ERROR. */
export function transferFailure(
  what: string,
  error: unknown,
  signal: AbortSignal | undefined,
): ReelfluxError {
  if (error instanceof ReelfluxError) return error;
  return signal?.aborted
    ? new ReelfluxError('CANCELLED', `${what} cancelled`, { cause: error })
    : new ReelfluxError('NETWORK_ERROR', `${what} failed: ${String(error)}`, { cause: error });
}
