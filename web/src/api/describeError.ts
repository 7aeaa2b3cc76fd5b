import {
  ClientErrorCode,
  ConversionErrorCode,
  ErrorCode,
} from '../../../lib/contracts/errorCodes.js';

/** What went wrong, as the server or the browser put it: a code and the extensions beside it. */
export interface ProblemFacts {
  code: string | undefined;
  /** A finer reason under the code (`EMAIL_TAKEN`, `STORED_BYTES`, …). */
  reason?: string | undefined;
  field?: string | undefined;
  retryAfterSeconds?: number | undefined;
  limit?: number | undefined;
}

/** The server's codes, and the page's for a request that never got an answer. */
type KnownCode = ErrorCode | ConversionErrorCode | ClientErrorCode;

// A Record over every code, so a code added to lib/contracts/errorCodes.ts fails the type
// check here until it has a sentence.
const SENTENCES: Record<KnownCode, string> = {
  UNAUTHENTICATED: 'Your session has ended. Please log in again.',
  FORBIDDEN: 'You are not allowed to do that.',
  NOT_FOUND: 'That video or conversion no longer exists. It may have been deleted.',
  BAD_USER_INPUT: 'Some of what you entered is not valid.',
  BAD_REQUEST: 'The upload was cut off or malformed. Please try again.',
  METHOD_NOT_ALLOWED: 'The page sent a request the server does not accept. Reload the page.',
  OFFSET_MISMATCH: 'The upload and the server lost step. Resuming from where the server stands.',
  UPLOAD_LOCKED: 'This upload is being sent from elsewhere right now. Try again in a moment.',
  UPLOAD_EXPIRED: 'This unfinished upload has expired. Please upload the file again.',
  TUS_VERSION_UNSUPPORTED:
    'The page uses an upload protocol the server does not speak. Reload the page.',
  UNSUPPORTED_CONTENT_TYPE:
    'The page sent the upload in a form the server does not accept. Reload the page.',
  CHECKSUM_MISMATCH: 'Part of the upload arrived damaged. It is being sent again.',
  PAYLOAD_TOO_LARGE: 'This file is too large to upload.',
  UNSUPPORTED_MEDIA:
    'This file is not a video or audio format we can read. Try MP4, MOV, MKV, WebM, AVI, MPEG-TS, FLV, Ogg or an audio file.',
  RATE_LIMITED: 'Too many attempts in a short time. Please wait a moment and try again.',
  REQUEST_TIMEOUT: 'The request took too long to arrive. Check your connection and try again.',
  RANGE_NOT_SATISFIABLE: 'The player asked for a part of the file that does not exist.',
  QUERY_TOO_DEEP: 'The page asked for too much at once. Reload the page.',
  QUERY_TOO_COMPLEX: 'The page asked for too much at once. Reload the page.',
  QUERY_TOO_COSTLY: 'The page asked for too much at once. Reload the page.',
  QUOTA_EXCEEDED: 'You have reached a limit of your account.',
  INTERNAL_SERVER_ERROR: 'Something went wrong on our side. Please try again.',
  SERVICE_UNAVAILABLE: 'The service is busy or partly down right now. Please try again shortly.',
  NO_AUDIO_STREAM: 'This video has no sound, so there is nothing to put in an MP3.',
  AUDIO_TRACK_NOT_FOUND:
    'This video has no audio track in that language or at that number. Choose one it has.',
  TRIM_OUT_OF_RANGE: 'The trim start or end lies outside the video. Choose times within it.',
  MEDIA_TOO_LONG: 'This video is longer than the service converts.',
  TIMEOUT: 'The conversion took too long and was stopped.',
  UPLOAD_FAILED: 'The upload did not finish, so there was nothing to convert.',
  RETRIES_EXHAUSTED: 'The conversion failed several times. Please try again later.',
  DISK_FULL: 'The converter ran out of space. Please try again later.',
  RETRYING: 'A converter had a problem; the conversion is queued again.',
  NETWORK_ERROR: 'The server could not be reached. Check your connection and try again.',
  CANCELLED: 'Cancelled.',
  CONNECTION_CLOSED: 'The live connection to the server was lost. Reload the page.',
  MALFORMED_MP4: 'This video file looks cut off or damaged.',
  MOOV_TOO_LARGE: 'The index of this video is too large to prepare for streaming.',
};

// Finer reasons that deserve their own sentence.
const REASONS: Record<string, string> = {
  INVALID_EMAIL: 'That does not look like an email address.',
  EMAIL_TAKEN: 'An account with this email already exists. Log in instead.',
  PASSWORD_TOO_SHORT: 'The password must be at least 10 characters long.',
  PASSWORD_TOO_LONG: 'The password is too long.',
  PASSWORD_IS_EMAIL: 'The password must not be your email address.',
  STORED_BYTES: 'Your storage is full. Delete some videos to make room.',
  ACTIVE_CONVERSIONS:
    'You already have as many conversions running as allowed. Convert again once one ends.',
  CONVERSIONS_PER_VIDEO: 'This video has been converted as many times as allowed.',
  NOT_A_URL: 'The endpoint URL must be a full address, such as https://example.com/hooks.',
  URL_TOO_LONG: 'The endpoint URL is too long.',
  SCHEME_NOT_ALLOWED: 'The endpoint URL must start with https://.',
  CREDENTIALS_IN_URL: 'The endpoint URL must not contain a user name or password.',
  PRIVATE_ADDRESS: 'The endpoint URL must be on the public internet, not a private address.',
  LOCALHOST: 'The endpoint URL must be on the public internet, not this machine.',
  PUSH_SUBSCRIPTIONS:
    'Notifications are on in as many browsers as allowed. Stop them in one you no longer use.',
};

// Invalid fields whose meaning a label alone does not say.
const FIELD_SENTENCES: Record<string, string> = {
  code: 'The code is wrong or has expired. Send a new one with “Send code”.',
  'subscription.endpoint':
    'This browser’s push service is not one the server sends to, so it cannot be notified.',
};

function isKnownCode(code: string): code is KnownCode {
  return Object.hasOwn(SENTENCES, code);
}

/**
 * One sentence a person understands for an error. `during: 'logIn'` reads UNAUTHENTICATED as
 * a wrong email or password rather than an ended session.
 */
export function describeError(facts: ProblemFacts, during?: 'logIn'): string {
  const { code, reason } = facts;
  if (during === 'logIn' && code === ErrorCode.UNAUTHENTICATED) {
    return 'The email or password is wrong.';
  }
  if (reason !== undefined && Object.hasOwn(REASONS, reason)) return REASONS[reason] as string;
  if (code === undefined || !isKnownCode(code)) return SENTENCES.INTERNAL_SERVER_ERROR;
  let sentence = SENTENCES[code];
  if (code === ErrorCode.BAD_USER_INPUT && facts.field) {
    sentence = Object.hasOwn(FIELD_SENTENCES, facts.field)
      ? (FIELD_SENTENCES[facts.field] as string)
      : `The value of “${labelFor(facts.field)}” is not valid.`;
  }
  if (code === ErrorCode.RATE_LIMITED && facts.retryAfterSeconds) {
    sentence = `Too many attempts in a short time. Please try again in ${waitFor(facts.retryAfterSeconds)}.`;
  }
  return sentence;
}

// Option fields as the form labels them.
const FIELD_LABELS: Record<string, string> = {
  email: 'Email',
  password: 'Password',
  'mp3.bitrateKbps': 'Bitrate',
  'mp3.vbrQuality': 'VBR quality',
  'mp3.sampleRateHz': 'Sample rate',
  'mp3.channels': 'Mono',
  'mp3.startSeconds': 'Trim start',
  'mp3.endSeconds': 'Trim end',
  'mp3.title': 'Title',
  'mp3.artist': 'Artist',
  events: 'Events',
  address: 'Email address',
};

function labelFor(field: string): string {
  return FIELD_LABELS[field] ?? field;
}

function waitFor(seconds: number): string {
  if (seconds < 90) return `${Math.ceil(seconds)} seconds`;
  return `${Math.ceil(seconds / 60)} minutes`;
}
