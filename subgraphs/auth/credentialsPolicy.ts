import { ErrorCode, graphqlError } from '../../lib/contracts/errors.js';

export const MIN_PASSWORD_LENGTH = 10;
/** argon2 hashes any length, but a megabyte "password" is a cheap CPU attack. */
export const MAX_PASSWORD_LENGTH = 1024;
/** Throws BAD_USER_INPUT naming the field and reason when a sign-up cannot be accepted. */
export function assertAcceptableCredentials(email: string | null, password: string): string {
  if (email === null) {
    throw graphqlError(ErrorCode.BAD_USER_INPUT, 'Not a valid email address', {
      field: 'email',
      reason: 'INVALID_EMAIL',
    });
  }
  if ([...password].length < MIN_PASSWORD_LENGTH) {
    throw graphqlError(
      ErrorCode.BAD_USER_INPUT,
      `Password must have at least ${MIN_PASSWORD_LENGTH} characters`,
      { field: 'password', reason: 'PASSWORD_TOO_SHORT' },
    );
  }
  if (password.length > MAX_PASSWORD_LENGTH) {
    throw graphqlError(
      ErrorCode.BAD_USER_INPUT,
      `Password must have at most ${MAX_PASSWORD_LENGTH} characters`,
      { field: 'password', reason: 'PASSWORD_TOO_LONG' },
    );
  }
  if (password.trim().toLowerCase() === email) {
    throw graphqlError(ErrorCode.BAD_USER_INPUT, 'Password must not be the email address', {
      field: 'password',
      reason: 'PASSWORD_IS_EMAIL',
    });
  }
  return email;
}
