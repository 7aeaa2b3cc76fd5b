import { ClientErrorCode, ConversionErrorCode, ErrorCode } from '../lib/contracts/errorCodes.js';

/** The SDK's own codes, for failures that never reached the server's answer. */
export const SdkErrorCode = ClientErrorCode;

/** What Apollo Server itself answers for a request it cannot run. */
const ApolloErrorCode = {
  GRAPHQL_PARSE_FAILED: 'GRAPHQL_PARSE_FAILED',
  GRAPHQL_VALIDATION_FAILED: 'GRAPHQL_VALIDATION_FAILED',
} as const;

const KNOWN = { ...ErrorCode, ...ConversionErrorCode, ...SdkErrorCode, ...ApolloErrorCode };

/**
 * Every code a ReelfluxError can carry: the server's `extensions.code`, a conversion's own
 * `error.code`, or the SDK's. A code the server sends that is not listed here arrives as
 * INTERNAL_SERVER_ERROR, with the server's errors kept in `errors`.
 */
export type ReelfluxErrorCode = (typeof KNOWN)[keyof typeof KNOWN];

export const isReelfluxErrorCode = (code: unknown): code is ReelfluxErrorCode =>
  typeof code === 'string' && Object.hasOwn(KNOWN, code);

/** One GraphQL error as the server sent it. */
export interface ServerError {
  message: string;
  extensions?: { code?: string; [key: string]: unknown };
}

/**
 * Every failure the SDK reports. `code` is the server's `extensions.code` (`UNAUTHENTICATED`,
 * `NOT_FOUND`, `PAYLOAD_TOO_LARGE`, …), a conversion's own error code (`NO_AUDIO_STREAM`, …), or
 * one of the SDK's: `NETWORK_ERROR` (the server could not be reached or answered garbage),
 * `CANCELLED` (the caller aborted), `CONNECTION_CLOSED` (the subscription socket was refused or
 * lost for good), and the faststart remuxer's `MALFORMED_MP4` and `MOOV_TOO_LARGE` (an upload
 * then sends the file as it is).
 */
export class ReelfluxError extends Error {
  override name = 'ReelfluxError';
  readonly code: ReelfluxErrorCode;
  readonly errors: readonly ServerError[];
  /** The HTTP status when the error ended a whole request. */
  readonly status: number | undefined;

  constructor(
    code: ReelfluxErrorCode,
    message: string,
    details: { errors?: readonly ServerError[]; status?: number; cause?: unknown } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.errors = details.errors ?? [];
    this.status = details.status;
  }

  /** From a GraphQL response's `errors`: the first one's code and message. */
  static fromErrors(errors: readonly ServerError[], status?: number): ReelfluxError {
    const first = errors[0];
    return new ReelfluxError(
      isReelfluxErrorCode(first?.extensions?.code)
        ? first.extensions.code
        : ErrorCode.INTERNAL_SERVER_ERROR,
      first?.message ?? 'unknown error',
      { errors, ...(status === undefined ? {} : { status }) },
    );
  }
}
