import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { clientAddress } from '../lib/server/http.js';

const request = (xff?: string) =>
  ({
    socket: { remoteAddress: '10.0.0.9' },
    headers: xff === undefined ? {} : { 'x-forwarded-for': xff },
  }) as unknown as IncomingMessage;

describe('clientAddress', () => {
  it('trusts only the socket when no proxy is trusted, whatever the client claims', () => {
    expect(clientAddress(request('1.2.3.4'), 0)).toBe('10.0.0.9');
  });
  it('takes the entry the trusted proxy appended, not a spoofed one further left', () => {
    expect(clientAddress(request('6.6.6.6, 1.2.3.4'), 1)).toBe('1.2.3.4');
    expect(clientAddress(request('6.6.6.6, 1.2.3.4, 10.1.1.1'), 2)).toBe('1.2.3.4');
  });
  it('falls back to the socket when a trusted proxy sent nothing', () => {
    expect(clientAddress(request(), 1)).toBe('10.0.0.9');
  });
});
