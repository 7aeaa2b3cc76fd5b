import { createECDH, createHash, ECDH } from 'node:crypto';
import webpush from 'web-push';
import { ErrorCode, graphqlError } from '../../../lib/contracts/errors.js';

/** A browser's `PushSubscription.toJSON()`, checked: what a push needs, nothing else kept. */
export interface PushSubscriptionKeys {
  endpoint: string;
  keys: { p256dh: string; auth: string };
}

export interface ParsePushSubscriptionOptions {
  /**
   * Accept `http:` endpoints. Browsers only ever hand out `https:` ones; a test's loopback
   * push endpoint has no certificate.
   * @default false
   */
  allowHttp?: boolean;
}

/** Browsers' endpoints are a few hundred characters; the cap keeps stored documents small. */
export const MAX_ENDPOINT_LENGTH = 2048;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
const P256_POINT_BYTES = 65;
const AUTH_SECRET_BYTES = 16;

const refuse = (message: string, field?: string) =>
  graphqlError(ErrorCode.BAD_USER_INPUT, message, field === undefined ? {} : { field });

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Unpadded base64url text with its bytes, or null for anything else. */
function base64url(value: unknown): { text: string; bytes: Buffer } | null {
  return typeof value === 'string' && BASE64URL.test(value)
    ? { text: value, bytes: Buffer.from(value, 'base64url') }
    : null;
}

/** An uncompressed point (0x04, x, y) that lies on P-256: anything else fails every push. */
function isP256Point(bytes: Buffer): boolean {
  if (bytes.length !== P256_POINT_BYTES || bytes[0] !== 0x04) return false;
  try {
    ECDH.convertKey(bytes, 'prime256v1');
    return true;
  } catch {
    return false;
  }
}

function parseEndpoint(raw: unknown, allowHttp: boolean): string {
  if (typeof raw !== 'string') {
    throw refuse('The push subscription has no endpoint', 'endpoint');
  }
  if (raw.length > MAX_ENDPOINT_LENGTH) {
    throw refuse(
      `The push endpoint must be at most ${MAX_ENDPOINT_LENGTH} characters long`,
      'endpoint',
    );
  }
  const url = URL.canParse(raw) ? new URL(raw) : null;
  const schemes = allowHttp ? ['https:', 'http:'] : ['https:'];
  if (!url || !schemes.includes(url.protocol)) {
    throw refuse(`The push endpoint must be an ${schemes.join(' or ')} URL`, 'endpoint');
  }
  if (url.username !== '' || url.password !== '') {
    throw refuse('The push endpoint must not carry a user name or password', 'endpoint');
  }
  return raw;
}

/**
 * Checks a subscription as the browser's `PushSubscription.toJSON()` gives it, before it is
 * stored: an https endpoint, `keys.p256dh` a P-256 public key and `keys.auth` a 16-byte
 * secret, both unpadded base64url. Throws BAD_USER_INPUT naming the member at fault, so a bad
 * subscription is refused when it is given rather than failing every push later.
 */
export function parsePushSubscription(
  raw: unknown,
  options: ParsePushSubscriptionOptions = {},
): PushSubscriptionKeys {
  if (!isRecord(raw)) {
    throw refuse('A push subscription must be an object with an endpoint and keys');
  }
  const endpoint = parseEndpoint(raw.endpoint, options.allowHttp ?? false);
  const keys = isRecord(raw.keys) ? raw.keys : {};
  const p256dh = base64url(keys.p256dh);
  if (!p256dh || !isP256Point(p256dh.bytes)) {
    throw refuse(
      'keys.p256dh must be an uncompressed P-256 public key (65 bytes) in unpadded base64url',
      'keys.p256dh',
    );
  }
  const auth = base64url(keys.auth);
  if (auth?.bytes.length !== AUTH_SECRET_BYTES) {
    throw refuse('keys.auth must be a 16-byte secret in unpadded base64url', 'keys.auth');
  }
  return { endpoint, keys: { p256dh: p256dh.text, auth: auth.text } };
}

/** The server's VAPID identity (RFC 8292): the key pair push services know it by. */
export interface VapidKeys {
  /** Unpadded base64url P-256 point: the page subscribes with it (`applicationServerKey`). */
  publicKey: string;
  privateKey: string;
  /** A `mailto:` or `https:` URL where the push service's operator can reach the sender. */
  subject: string;
}

/**
 * The VAPID key pair derived from `secret` (its SHA-256 is the P-256 private key), so every
 * replica that shares the secret signs alike. Kept: a browser's subscription is bound to the
 * public key it was made with, so another secret orphans every stored subscription.
 */
export function vapidKeysFromSecret(secret: Uint8Array, subject: string): VapidKeys {
  const url = URL.canParse(subject) ? new URL(subject) : null;
  if (!url || !['mailto:', 'https:'].includes(url.protocol)) {
    throw new Error(`The VAPID subject must be a mailto: or https: URL, not "${subject}"`);
  }
  const privateKey = createHash('sha256').update(secret).digest();
  const ecdh = createECDH('prime256v1');
  ecdh.setPrivateKey(privateKey);
  return {
    publicKey: ecdh.getPublicKey().toString('base64url'),
    privateKey: privateKey.toString('base64url'),
    subject,
  };
}

/**
 * What became of one push. `gone`: the push service no longer knows the subscription (the
 * browser unsubscribed or it expired), so it is to be removed; `failed`: anything else that
 * did not deliver (no answer, a refusal, a server error), with the status when there was one.
 */
export type PushOutcome =
  | { kind: 'delivered'; statusCode: number }
  | { kind: 'gone'; statusCode: 404 | 410 }
  | { kind: 'failed'; statusCode: number | null; error: string };

export interface SendPushOptions {
  vapid: VapidKeys;
  /** How long the push service keeps the message for a browser that is offline (`TTL`). */
  ttlSeconds: number;
  /** For the whole exchange: connecting, the answer and its body. */
  timeoutMs: number;
}

/**
 * The largest payload one aes128gcm record of 4096 bytes holds (RFC 8291 §4): push services
 * need not accept more, and refuse it with 413.
 */
export const MAX_PUSH_PAYLOAD_BYTES = 4096 - 86 - 16 - 1;

/** Reads a push service's answer (RFC 8030 §6-7). */
function outcomeOf(statusCode: number, body: string): PushOutcome {
  if (statusCode >= 200 && statusCode < 300) return { kind: 'delivered', statusCode };
  if (statusCode === 404 || statusCode === 410) return { kind: 'gone', statusCode };
  const said = body.trim().slice(0, 200);
  return {
    kind: 'failed',
    statusCode,
    error: `the push service answered ${statusCode}${said ? `: ${said}` : ''}`,
  };
}

/** Why a request got no answer: fetch hides the socket's error in `cause`. */
function describeSendError(error: unknown, timeoutMs: number): string {
  if (!(error instanceof Error)) return String(error);
  if (error.name === 'TimeoutError') return `no answer within ${timeoutMs} ms`;
  const cause: unknown = error.cause;
  if (cause instanceof Error) {
    // Node's connection attempts over several addresses fail with an AggregateError that has
    // a code and no message.
    const code = (cause as NodeJS.ErrnoException).code;
    return cause.message || code || error.message;
  }
  return error.message;
}

/**
 * Sends `payload` to one subscription as RFC 8030 asks: encrypted for the browser (aes128gcm,
 * RFC 8291) and signed with the server's VAPID key (RFC 8292), both by web-push. Network
 * outcomes never throw: they come back as `failed`, and 404 or 410 as `gone`. Throws only for
 * the caller's mistakes (a payload over MAX_PUSH_PAYLOAD_BYTES, unusable VAPID keys).
 *
 * web-push's own `sendNotification` speaks only HTTPS and times out only an idle socket; the
 * request goes out with fetch instead, under one deadline, to any endpoint
 * parsePushSubscription accepted.
 */
export async function sendPush(
  subscription: PushSubscriptionKeys,
  payload: string,
  options: SendPushOptions,
): Promise<PushOutcome> {
  if (Buffer.byteLength(payload) > MAX_PUSH_PAYLOAD_BYTES) {
    throw new RangeError(`A push payload holds at most ${MAX_PUSH_PAYLOAD_BYTES} bytes`);
  }
  const request = webpush.generateRequestDetails(subscription, payload, {
    vapidDetails: options.vapid,
    TTL: options.ttlSeconds,
    contentEncoding: 'aes128gcm',
  });
  // fetch sets Content-Length from the body itself.
  const headers = Object.entries(request.headers)
    .filter(([name]) => name.toLowerCase() !== 'content-length')
    .map(([name, value]): [string, string] => [name, String(value)]);
  try {
    const answer = await fetch(request.endpoint, {
      method: 'POST',
      headers,
      body: request.body,
      // A push service answers itself; a redirect elsewhere is not followed.
      redirect: 'manual',
      signal: AbortSignal.timeout(options.timeoutMs),
    });
    return outcomeOf(answer.status, await answer.text());
  } catch (error) {
    return { kind: 'failed', statusCode: null, error: describeSendError(error, options.timeoutMs) };
  }
}
