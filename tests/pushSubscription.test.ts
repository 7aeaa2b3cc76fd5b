import { createECDH, randomBytes } from 'node:crypto';
import { GraphQLError } from 'graphql';
import { describe, expect, it } from 'vitest';
import {
  MAX_ENDPOINT_LENGTH,
  parsePushSubscription,
  type ParsePushSubscriptionOptions,
} from '../subgraphs/notification/push/sendPush.js';

const b64url = (bytes: Buffer) => bytes.toString('base64url');

/** A P-256 public point as browsers send it: 0x04, x, y. */
function browserKey(): Buffer {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  return ecdh.getPublicKey();
}

const p256dh = b64url(browserKey());
const auth = b64url(randomBytes(16));
const endpoint =
  'https://fcm.googleapis.com/fcm/send/dQw4w9WgXcQ:APA91bH5mJ0y0Y3kqvY6Xb0nFqz2uZrB3QvGcZ8Kk1vX9pLmNoPqRsTuVwXyZ';

/** Shaped like Chrome's `PushSubscription.toJSON()`, expirationTime included. */
const browserSubscription = (changes: { endpoint?: unknown; keys?: unknown } = {}) => ({
  endpoint,
  expirationTime: null,
  keys: { p256dh, auth },
  ...changes,
});

/** The code, field and message of the refusal, or 'accepted'. */
function refusalOf(raw: unknown, options?: ParsePushSubscriptionOptions) {
  try {
    parsePushSubscription(raw, options);
  } catch (error) {
    if (!(error instanceof GraphQLError)) throw error;
    return { code: error.extensions.code, field: error.extensions.field, message: error.message };
  }
  return 'accepted';
}

describe('parsePushSubscription', () => {
  it('keeps the endpoint and keys of a browser subscription, and nothing else', () => {
    expect(parsePushSubscription(browserSubscription())).toEqual({
      endpoint,
      keys: { p256dh, auth },
    });
  });

  it.each([null, undefined, 'https://push.example/x', 42, [endpoint]])(
    'refuses %j, which is no object',
    (raw) => {
      expect(refusalOf(raw)).toEqual({
        code: 'BAD_USER_INPUT',
        field: undefined,
        message: 'A push subscription must be an object with an endpoint and keys',
      });
    },
  );

  it.each([
    ['no endpoint', undefined, /has no endpoint/],
    ['a number', 7, /has no endpoint/],
    ['a relative URL', '/push/abc', /must be an https: URL/],
    ['a host without scheme', 'fcm.googleapis.com/fcm/send/abc', /must be an https: URL/],
    ['plain http', 'http://push.example/abc', /must be an https: URL/],
    ['another scheme', 'ftp://push.example/abc', /must be an https: URL/],
    ['credentials', 'https://user:secret@push.example/abc', /user name or password/],
    [
      'one character too many',
      `https://push.example/${'a'.repeat(MAX_ENDPOINT_LENGTH - 20)}`,
      /at most 2048 characters/,
    ],
  ])('refuses an endpoint with %s', (_what, bad, message) => {
    expect(refusalOf(browserSubscription({ endpoint: bad }))).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'endpoint',
      message: expect.stringMatching(message),
    });
  });

  it('takes an endpoint of exactly 2048 characters', () => {
    const longest = `https://push.example/${'a'.repeat(MAX_ENDPOINT_LENGTH - 21)}`;
    expect(longest).toHaveLength(MAX_ENDPOINT_LENGTH);
    expect(refusalOf(browserSubscription({ endpoint: longest }))).toBe('accepted');
  });

  it('takes an http endpoint only when told to, and never another scheme', () => {
    const loopback = browserSubscription({ endpoint: 'http://127.0.0.1:8080/push/a' });
    expect(refusalOf(loopback, { allowHttp: true })).toBe('accepted');
    expect(refusalOf(loopback)).toMatchObject({ field: 'endpoint' });
    expect(
      refusalOf(browserSubscription({ endpoint: 'ws://127.0.0.1/x' }), { allowHttp: true }),
    ).toMatchObject({ field: 'endpoint', message: expect.stringMatching(/https: or http: URL/) });
  });

  const offCurve = browserKey();
  offCurve[64] = (offCurve[64] ?? 0) ^ 1;
  const compressed = Buffer.concat([Buffer.from([0x02]), browserKey().subarray(1, 33)]);
  const wrongPrefix = Buffer.concat([Buffer.from([0x05]), browserKey().subarray(1)]);

  it.each([
    ['missing', undefined],
    ['not a string', 65],
    ['padded base64url', `${p256dh}=`],
    ['standard base64', browserKey().toString('base64')],
    ['64 bytes', b64url(browserKey().subarray(0, 64))],
    ['a compressed point', b64url(compressed)],
    ['a point with a wrong first byte', b64url(wrongPrefix)],
    ['a point off the curve', b64url(offCurve)],
  ])('refuses keys.p256dh that is %s', (_what, bad) => {
    expect(refusalOf(browserSubscription({ keys: { p256dh: bad, auth } }))).toEqual({
      code: 'BAD_USER_INPUT',
      field: 'keys.p256dh',
      message:
        'keys.p256dh must be an uncompressed P-256 public key (65 bytes) in unpadded base64url',
    });
  });

  it.each([
    ['missing', undefined],
    ['not a string', ['a']],
    ['15 bytes', b64url(randomBytes(15))],
    ['17 bytes', b64url(randomBytes(17))],
    ['padded', `${auth}==`],
    ['empty', ''],
  ])('refuses keys.auth that is %s', (_what, bad) => {
    expect(refusalOf(browserSubscription({ keys: { p256dh, auth: bad } }))).toEqual({
      code: 'BAD_USER_INPUT',
      field: 'keys.auth',
      message: 'keys.auth must be a 16-byte secret in unpadded base64url',
    });
  });

  it('refuses a subscription without keys, naming the first one missing', () => {
    expect(refusalOf(browserSubscription({ keys: undefined }))).toMatchObject({
      field: 'keys.p256dh',
    });
    expect(refusalOf(browserSubscription({ keys: 'p256dh' }))).toMatchObject({
      field: 'keys.p256dh',
    });
  });
});
