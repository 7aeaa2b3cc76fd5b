import { GraphQLError } from 'graphql';

/**
 * Every machine-readable error code a client can see, in one place. GraphQL errors carry one
 * in `extensions.code`; plain HTTP endpoints put it in their JSON error body.
 */
export const ErrorCode = {
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  BAD_REQUEST: 'BAD_REQUEST',
  METHOD_NOT_ALLOWED: 'METHOD_NOT_ALLOWED',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  UNSUPPORTED_MEDIA: 'UNSUPPORTED_MEDIA',
  RATE_LIMITED: 'RATE_LIMITED',
  REQUEST_TIMEOUT: 'REQUEST_TIMEOUT',
  RANGE_NOT_SATISFIABLE: 'RANGE_NOT_SATISFIABLE',
  QUERY_TOO_DEEP: 'QUERY_TOO_DEEP',
  QUERY_TOO_COMPLEX: 'QUERY_TOO_COMPLEX',
  QUERY_TOO_COSTLY: 'QUERY_TOO_COSTLY',
  QUOTA_EXCEEDED: 'QUOTA_EXCEEDED',
  INTERNAL_SERVER_ERROR: 'INTERNAL_SERVER_ERROR',
  SERVICE_UNAVAILABLE: 'SERVICE_UNAVAILABLE',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** HTTP status that goes with each code when the error ends a whole request. */
export const httpStatusFor: Record<ErrorCode, number> = {
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  BAD_USER_INPUT: 400,
  BAD_REQUEST: 400,
  METHOD_NOT_ALLOWED: 405,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA: 415,
  RATE_LIMITED: 429,
  REQUEST_TIMEOUT: 408,
  RANGE_NOT_SATISFIABLE: 416,
  QUERY_TOO_DEEP: 400,
  QUERY_TOO_COMPLEX: 400,
  QUERY_TOO_COSTLY: 400,
  QUOTA_EXCEEDED: 403,
  INTERNAL_SERVER_ERROR: 500,
  SERVICE_UNAVAILABLE: 503,
};

export interface ErrorDetails {
  /** The input field at fault, for BAD_USER_INPUT. */
  field?: string;
  /** A finer reason under the code, e.g. EMAIL_TAKEN under BAD_USER_INPUT. */
  reason?: string;
  retryAfterSeconds?: number;
  /** For QUERY_TOO_COSTLY: what the operation could cost, and the limit. */
  cost?: number;
  maxCost?: number;
  /** For QUOTA_EXCEEDED: the limit that was reached, and what it is. */
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
