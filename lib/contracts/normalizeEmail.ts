const MAX_EMAIL_LENGTH = 254;
// Deliberately loose: one @, no spaces or control characters, a dot in the domain.
// Deliverability is not our check.
const EMAIL_PATTERN = /^[^\s@\p{Cc}]+@[^\s@\p{Cc}]+\.[^\s@\p{Cc}]+$/u;

/**
 * Trimmed and lower-cased, so `A@X.io ` and `a@x.io` are one address; null if not an email.
 * Accounts (auth) and notification addresses (notification) read addresses alike.
 */
export function normalizeEmail(input: string): string | null {
  const email = input.trim().toLowerCase();
  return email.length <= MAX_EMAIL_LENGTH && EMAIL_PATTERN.test(email) ? email : null;
}
