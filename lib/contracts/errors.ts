import { GraphQLError } from 'graphql';
import { ErrorCode, httpStatusFor, SocketCloseCode } from './errorCodes.js';

export { ErrorCode, httpStatusFor, SocketCloseCode };

export interface ErrorDetails {
  /** The input field at fault, for BAD_USER_INPUT. */
  field?: string;
  /** A finer reason under the code, e.g. EMAIL_TAKEN under BAD_USER_INPUT. */
  reason?: string;
  retryAfterSeconds?: number;
  /** For QUERY_TOO_COSTLY: what the operation could cost, and the limit. */
  cost?: number;
  maxCost?: number;
  /** For QUOTA_EXCEEDED and the subscription caps (RATE_LIMITED): the limit that was reached. */
  limit?: number;
}

/**
 * A GraphQL error with a code. `httpStatus` is set only where the error ends the request
 * before execution (e.g. a bad token in the context function); field errors stay 200.
 */
export function graphqlError(
  code: ErrorCode,
  message: string,
  details: ErrorDetails = {},
  options: { httpStatus?: boolean } = {},
): GraphQLError {
  return new GraphQLError(message, {
    extensions: {
      code,
      ...details,
      ...(options.httpStatus ? { http: { status: httpStatusFor[code] } } : {}),
    },
  });
}

/** The JSON body plain HTTP endpoints answer errors with (same shape as GraphQL's). */
export function errorBody(code: ErrorCode, message: string, details: ErrorDetails = {}): string {
  return JSON.stringify({ errors: [{ message, extensions: { code, ...details } }] });
}
