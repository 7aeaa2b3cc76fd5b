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
 * lost for good).
 */
export class ReelfluxError extends Error {
  override name = 'ReelfluxError';
  readonly code: string;
  readonly errors: readonly ServerError[];
  /** The HTTP status when the error ended a whole request. */
  readonly status: number | undefined;

  constructor(
    code: string,
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
      first?.extensions?.code ?? 'INTERNAL_SERVER_ERROR',
      first?.message ?? 'unknown error',
      { errors, ...(status === undefined ? {} : { status }) },
    );
  }
}
