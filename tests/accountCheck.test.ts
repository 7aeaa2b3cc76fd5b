import { describe, expect, it } from 'vitest';
import { InvalidTokenError, type TokenVerifier } from '../lib/server/createTokenVerifier.js';
import { createAccountCheck, type AccountLookup } from '../router/createAccountCheck.js';

const EXPIRES_AT = new Date('2030-01-01T00:00:00Z');

/** Tokens are "token-<userId>"; "bad" fails its signature. */
const verify: TokenVerifier = (token) =>
  token === 'bad'
    ? Promise.reject(new InvalidTokenError('signature verification failed'))
    : Promise.resolve({ userId: token.replace(/^token-/, ''), expiresAt: EXPIRES_AT });

function setup(live: Set<string>) {
  let clock = 0;
  const asked: string[] = [];
  let failNext = false;
  const lookup: AccountLookup = (userId, authorization) => {
    asked.push(`${userId} ${authorization}`);
    if (failNext) {
      failNext = false;
      return Promise.reject(new Error('auth unreachable'));
    }
    return Promise.resolve(live.has(userId));
  };
  const check = createAccountCheck(verify, { lookup, ttlMs: 30_000, now: () => clock });
  return {
    check,
    asked,
    advance: (ms: number) => (clock += ms),
    failOnce: () => (failNext = true),
  };
}

describe('createAccountCheck', () => {
  it('passes a live account and asks auth once per period, with the caller’s own token', async () => {
    const { check, asked, advance } = setup(new Set(['alice']));
    expect(await check('token-alice')).toEqual({ userId: 'alice', expiresAt: EXPIRES_AT });
    advance(29_999);
    expect(await check('token-alice')).toEqual({ userId: 'alice', expiresAt: EXPIRES_AT });
    expect(asked).toEqual(['alice Bearer token-alice']);
  });

  it('refuses a deleted account as an invalid token, within one period of the deletion', async () => {
    const live = new Set(['bob']);
    const { check, asked, advance } = setup(live);
    await check('token-bob');
    live.delete('bob');
    // Still believed until the answer ages out: the documented window.
    await expect(check('token-bob')).resolves.toEqual({ userId: 'bob', expiresAt: EXPIRES_AT });
    advance(30_000);
    await expect(check('token-bob')).rejects.toThrow(InvalidTokenError);
    await expect(check('token-bob')).rejects.toThrow('the account no longer exists');
    expect(asked).toHaveLength(2);
  });

  it('shares one lookup among simultaneous requests for a user', async () => {
    const { check, asked } = setup(new Set(['carol']));
    await Promise.all([check('token-carol'), check('token-carol'), check('token-carol')]);
    expect(asked).toHaveLength(1);
  });

  it('does not remember a failed lookup, and passes its error on', async () => {
    const { check, asked, failOnce } = setup(new Set(['dave']));
    failOnce();
    await expect(check('token-dave')).rejects.toThrow('auth unreachable');
    await expect(check('token-dave')).resolves.toEqual({ userId: 'dave', expiresAt: EXPIRES_AT });
    expect(asked).toHaveLength(2);
  });

  it('never asks about a token whose signature fails', async () => {
    const { check, asked } = setup(new Set());
    await expect(check('bad')).rejects.toThrow('signature verification failed');
    expect(asked).toEqual([]);
  });
});
