import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import {
  bodyDigest,
  createInternalHop,
  HOP_HEADER,
  HOP_MAX_AGE_SECONDS,
  type HopRequest,
} from '../lib/server/createInternalHop.js';

const hop = createInternalHop(new TextEncoder().encode('s'.repeat(32)));
const signedAt = new Date('2026-12-01T12:00:00Z');
const body = '{"query":"{ me { id } }"}';
const request: HopRequest = {
  method: 'POST',
  target: '/graphql',
  headers: { 'x-forwarded-for': '198.51.100.7', authorization: 'Bearer a.b.c' },
  body: bodyDigest(body),
};

/** A received request as Node would present it, with the signature made for `request`. */
const received = (changes: Partial<IncomingMessage> = {}, headers: Record<string, string> = {}) =>
  ({
    method: 'POST',
    url: '/graphql',
    ...changes,
    headers: {
      'x-forwarded-for': '198.51.100.7',
      authorization: 'Bearer a.b.c',
      [HOP_HEADER]: hop.sign(request, signedAt),
      ...headers,
    },
  }) as unknown as IncomingMessage;

describe('createInternalHop', () => {
  it('accepts the request it signed, within the window', () => {
    const later = new Date(signedAt.getTime() + HOP_MAX_AGE_SECONDS * 1000);
    expect(hop.verify(received(), bodyDigest(body), signedAt)).toBe(true);
    expect(hop.verify(received(), bodyDigest(body), later)).toBe(true);
    expect(hop.isRecent(received(), later)).toBe(true);
  });

  it('refuses it after the window, and with another method, path, header or body', () => {
    const late = new Date(signedAt.getTime() + (HOP_MAX_AGE_SECONDS + 1) * 1000);
    expect(hop.isRecent(received(), late)).toBe(false);
    expect(hop.verify(received(), bodyDigest(body), late)).toBe(false);
    const refused = [
      received({ method: 'GET' }),
      received({ url: '/auth/login' }),
      received({ url: '/graphql?x=1' }),
      received({}, { 'x-forwarded-for': '203.0.113.1' }),
      received({}, { authorization: 'Bearer x.y.z' }),
      received({}, { 'x-client-request-bytes': '1000' }),
    ];
    for (const req of refused) expect(hop.verify(req, bodyDigest(body), signedAt)).toBe(false);
    expect(hop.verify(received(), bodyDigest('{}'), signedAt)).toBe(false);
    expect(hop.verify(received(), { streamedUpload: 'multipart/form-data' }, signedAt)).toBe(false);
  });

  it('refuses a signature made with another secret, or not in its shape', () => {
    const other = createInternalHop(new TextEncoder().encode('o'.repeat(32)));
    const forged = received({}, { [HOP_HEADER]: other.sign(request, signedAt) });
    expect(hop.verify(forged, bodyDigest(body), signedAt)).toBe(false);
    const v1 = received({}, { [HOP_HEADER]: `v1.${signedAt.getTime() / 1000}.${'A'.repeat(43)}` });
    expect(hop.isRecent(v1, signedAt)).toBe(false);
  });

  it('signs a streamed upload by its content type, boundary included', () => {
    const contentType = 'multipart/form-data; boundary=abc';
    const upload: HopRequest = { ...request, body: { streamedUpload: contentType } };
    const req = received({}, { [HOP_HEADER]: hop.sign(upload, signedAt) });
    expect(hop.verify(req, { streamedUpload: contentType }, signedAt)).toBe(true);
    expect(hop.verify(req, { streamedUpload: 'multipart/form-data; boundary=xyz' }, signedAt)).toBe(
      false,
    );
    expect(hop.verify(req, bodyDigest(''), signedAt)).toBe(false);
  });
});
