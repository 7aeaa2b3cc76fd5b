import { describe, expect, it } from 'vitest';
import { ClientErrorCode, ConversionErrorCode, ErrorCode } from '../lib/contracts/errorCodes.js';
import { describeError } from '../web/src/api/describeError.js';

describe('describeError (web page)', () => {
  const generic = describeError({ code: ErrorCode.INTERNAL_SERVER_ERROR });

  it('has a sentence of its own for every code a client can see', () => {
    const codes = [
      ...Object.values(ErrorCode),
      ...Object.values(ConversionErrorCode),
      ...Object.values(ClientErrorCode),
    ].filter((code) => code !== ErrorCode.INTERNAL_SERVER_ERROR);
    for (const code of codes) {
      const sentence = describeError({ code });
      expect(sentence, code).not.toBe(generic);
      expect(sentence, code).toMatch(/^[A-Z].*\.$/);
      expect(sentence, code).not.toContain(code);
    }
  });

  it('reads UNAUTHENTICATED as a wrong password while logging in, and as an ended session after', () => {
    expect(describeError({ code: 'UNAUTHENTICATED' }, 'logIn')).toBe(
      'The email or password is wrong.',
    );
    expect(describeError({ code: 'UNAUTHENTICATED' })).toContain('log in again');
  });

  it('uses the finer reason, the field and the wait where the server gives them', () => {
    expect(describeError({ code: 'BAD_USER_INPUT', reason: 'EMAIL_TAKEN' })).toContain('Log in');
    expect(describeError({ code: 'QUOTA_EXCEEDED', reason: 'STORED_BYTES' })).toContain(
      'Delete some videos',
    );
    expect(describeError({ code: 'BAD_USER_INPUT', reason: 'SCHEME_NOT_ALLOWED' })).toContain(
      'https://',
    );
    expect(describeError({ code: 'BAD_USER_INPUT', reason: 'PRIVATE_ADDRESS' })).toContain(
      'public internet',
    );
    expect(describeError({ code: 'BAD_USER_INPUT', field: 'mp3.endSeconds' })).toBe(
      'The value of “Trim end” is not valid.',
    );
    expect(describeError({ code: 'BAD_USER_INPUT', field: 'code' })).toContain(
      'wrong or has expired',
    );
    expect(describeError({ code: 'BAD_USER_INPUT', field: 'subscription.endpoint' })).toContain(
      'push service',
    );
    expect(describeError({ code: 'QUOTA_EXCEEDED', reason: 'PUSH_SUBSCRIPTIONS' })).toContain(
      'Stop them',
    );
    expect(describeError({ code: 'RATE_LIMITED', retryAfterSeconds: 42 })).toContain(
      'in 42 seconds',
    );
    expect(describeError({ code: 'RATE_LIMITED', retryAfterSeconds: 600 })).toContain(
      'in 10 minutes',
    );
  });

  it('falls back to the generic sentence for a code it does not know', () => {
    expect(describeError({ code: 'SOMETHING_NEW' })).toBe(generic);
    expect(describeError({ code: undefined })).toBe(generic);
  });
});
