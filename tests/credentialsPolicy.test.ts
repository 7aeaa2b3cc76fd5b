import { normalizeEmail } from '../lib/contracts/normalizeEmail.js';
import { GraphQLError } from 'graphql';
import { describe, expect, it } from 'vitest';
import { assertAcceptableCredentials } from '../subgraphs/auth/credentialsPolicy.js';

function reasonOf(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    if (error instanceof GraphQLError)
      return [error.extensions.code, error.extensions.field, error.extensions.reason];
    throw error;
  }
  return 'accepted';
}

describe('credentials policy', () => {
  it('normalises emails so case and spaces do not make a second account', () => {
    expect(normalizeEmail('  Alice@Example.COM ')).toBe('alice@example.com');
    expect(normalizeEmail('not-an-email')).toBeNull();
    expect(normalizeEmail('a b@example.com')).toBeNull();
    expect(normalizeEmail(`${'a'.repeat(250)}@example.com`)).toBeNull();
  });

  it('refuses control characters in an email, which the store could not keep', () => {
    expect(normalizeEmail('a\u0000b@example.com')).toBeNull();
    expect(normalizeEmail('a@exa\u0007mple.com')).toBeNull();
    expect(normalizeEmail('a@example.c\u007fom')).toBeNull();
  });

  it('accepts a long enough password that is not the email', () => {
    expect(reasonOf(() => assertAcceptableCredentials('a@example.com', 'correct horse'))).toBe(
      'accepted',
    );
  });

  it.each([
    ['an invalid email', null, 'correct horse', ['BAD_USER_INPUT', 'email', 'INVALID_EMAIL']],
    [
      '5 characters',
      'a@example.com',
      'short',
      ['BAD_USER_INPUT', 'password', 'PASSWORD_TOO_SHORT'],
    ],
    [
      '9 characters',
      'a@example.com',
      '123456789',
      ['BAD_USER_INPUT', 'password', 'PASSWORD_TOO_SHORT'],
    ],
    [
      'the email',
      'longer@example.com',
      'Longer@Example.com',
      ['BAD_USER_INPUT', 'password', 'PASSWORD_IS_EMAIL'],
    ],
    [
      '1025 characters',
      'a@example.com',
      'x'.repeat(1025),
      ['BAD_USER_INPUT', 'password', 'PASSWORD_TOO_LONG'],
    ],
  ])('refuses %s', (_what, email, password, expected) => {
    expect(reasonOf(() => assertAcceptableCredentials(email, password))).toEqual(expected);
  });

  it('counts characters, not UTF-16 units, for the minimum length', () => {
    // Nine emoji are 18 UTF-16 units but nine characters: too short.
    expect(reasonOf(() => assertAcceptableCredentials('a@example.com', '🎵'.repeat(9)))).toEqual([
      'BAD_USER_INPUT',
      'password',
      'PASSWORD_TOO_SHORT',
    ]);
  });
});
