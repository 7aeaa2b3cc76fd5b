// Imports nothing: the SDK shares this file with the server (tests/sdk.test.ts checks both).

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
  /** A resumable upload's PATCH at another offset than the stored one (tus: 409). */
  OFFSET_MISMATCH: 'OFFSET_MISMATCH',
  /** A resumable upload already taking bytes from another request (tus: 423). */
  UPLOAD_LOCKED: 'UPLOAD_LOCKED',
  /** A resumable upload past its Upload-Expires (tus: 410). */
  UPLOAD_EXPIRED: 'UPLOAD_EXPIRED',
  /** A tus request of another protocol version than 1.0.0 (tus: 412). */
  TUS_VERSION_UNSUPPORTED: 'TUS_VERSION_UNSUPPORTED',
  /** A PATCH whose Content-Type is not application/offset+octet-stream (tus: 415). */
  UNSUPPORTED_CONTENT_TYPE: 'UNSUPPORTED_CONTENT_TYPE',
  /** The bytes of a PATCH do not match its Upload-Checksum (tus checksum extension: 460). */
  CHECKSUM_MISMATCH: 'CHECKSUM_MISMATCH',
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

/**
 * WebSocket close codes the router sends beyond graphql-ws's own (`CloseCode`: 4401 without a
 * token, 4403 for a refused or expired one).
 */
export const SocketCloseCode = {
  /**
   * Too many sockets open for the user or the client address. graphql-ws uses the same code
   * for a second `connection_init`, and its clients do not retry after it.
   */
  TOO_MANY_SOCKETS: 4429,
} as const;
export type SocketCloseCode = (typeof SocketCloseCode)[keyof typeof SocketCloseCode];

/** HTTP status that goes with each code when the error ends a whole request. */
export const httpStatusFor: Record<ErrorCode, number> = {
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  BAD_USER_INPUT: 400,
  BAD_REQUEST: 400,
  METHOD_NOT_ALLOWED: 405,
  OFFSET_MISMATCH: 409,
  UPLOAD_LOCKED: 423,
  UPLOAD_EXPIRED: 410,
  TUS_VERSION_UNSUPPORTED: 412,
  UNSUPPORTED_CONTENT_TYPE: 415,
  CHECKSUM_MISMATCH: 460,
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

/** Why a conversion failed, as clients see it in `error.code`. */
export const ConversionErrorCode = {
  UNSUPPORTED_MEDIA: 'UNSUPPORTED_MEDIA',
  NO_AUDIO_STREAM: 'NO_AUDIO_STREAM',
  TRIM_OUT_OF_RANGE: 'TRIM_OUT_OF_RANGE',
  /** `audioTrack` names a language or an index the video has no audio stream for. */
  AUDIO_TRACK_NOT_FOUND: 'AUDIO_TRACK_NOT_FOUND',
  /** Longer than the worker's MAX_MEDIA_SECONDS, by ffprobe. */
  MEDIA_TOO_LONG: 'MEDIA_TOO_LONG',
  TIMEOUT: 'TIMEOUT',
  /** Its upload ended without a stored file (cut off, refused); the conversion is then removed. */
  UPLOAD_FAILED: 'UPLOAD_FAILED',
  RETRIES_EXHAUSTED: 'RETRIES_EXHAUSTED',
  /** Retries used up, the last for want of space on the worker's disk (an operator's matter). */
  DISK_FULL: 'DISK_FULL',
  /** The MP3 would take its owner's storage past MAX_STORED_BYTES_PER_USER. */
  QUOTA_EXCEEDED: 'QUOTA_EXCEEDED',
  /** Not a failure: back in the queue after a transient fault, `message` says which. */
  RETRYING: 'RETRYING',
} as const;
export type ConversionErrorCode = (typeof ConversionErrorCode)[keyof typeof ConversionErrorCode];

/**
 * Codes a client gives a failure that never reached the server's answer: the SDK's
 * (`SdkErrorCode`) and the web page's.
 */
export const ClientErrorCode = {
  /** The server could not be reached, or answered something that is not GraphQL. */
  NETWORK_ERROR: 'NETWORK_ERROR',
  /** The caller aborted (the conversion is cancelled on the server too). */
  CANCELLED: 'CANCELLED',
  /** The subscription socket was refused or lost for good. */
  CONNECTION_CLOSED: 'CONNECTION_CLOSED',
  /** An MP4/MOV whose boxes cannot be walked (truncated, a size past its parent's end). */
  MALFORMED_MP4: 'MALFORMED_MP4',
  /** An MP4/MOV index (moov) too large to move in front of the media data in memory. */
  MOOV_TOO_LARGE: 'MOOV_TOO_LARGE',
} as const;
export type ClientErrorCode = (typeof ClientErrorCode)[keyof typeof ClientErrorCode];
