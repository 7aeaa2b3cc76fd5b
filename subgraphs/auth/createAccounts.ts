import { normalizeEmail } from '../../lib/contracts/normalizeEmail.js';
import { createHash, randomBytes } from 'node:crypto';
import argon2 from 'argon2';
import { ErrorCode, graphqlError } from '../../lib/contracts/errors.js';
import { addressBlock } from '../../lib/server/addressBlock.js';
import { assertAcceptableCredentials, MAX_PASSWORD_LENGTH } from './credentialsPolicy.js';
import { type RateBudget, type RateWindows } from '../../lib/stores/createRateWindows.js';
import type { LoginLimiter } from './createLoginLimiter.js';
import type { IssuedToken, TokenIssuer } from './createTokenIssuer.js';
import { EmailTakenError, type UserRecord, type UserStore } from './createUserStore.js';

/** OWASP's argon2id baseline (19 MiB, 2 passes): about 30 ms here, per attempt. */
const ARGON2_OPTIONS = {
  type: argon2.argon2id,
  memoryCost: 19_456,
  timeCost: 2,
  parallelism: 1,
} as const;

export interface SignedIn extends IssuedToken {
  user: UserRecord;
}

export interface Accounts {
  /** `client` is the caller's address; limits count it by its block (see addressBlock). */
  signUp(email: string, password: string, client: string): Promise<SignedIn>;
  logIn(email: string, password: string, client: string): Promise<SignedIn>;
}

/** What sign-ups may cost: each is an argon2 hash and an answer about an email. */
export interface SignUpBudgets {
  windows: RateWindows;
  /** Per client address (an IPv6 /64 counts as one). */
  perClient: RateBudget;
  /** For the whole service, whatever the addresses: what a spread of addresses cannot pass. */
  total: RateBudget;
}

/** The window key of the whole service's sign-up budget. */
const ALL_SIGNUPS = 'signup-all';

/** Sign-up and log-in, shared by the GraphQL mutations and the HTTP Basic endpoint. */
export async function createAccounts(deps: {
  users: UserStore;
  limiter: LoginLimiter;
  signUps: SignUpBudgets;
  tokens: TokenIssuer;
}): Promise<Accounts> {
  const { users, limiter, tokens, signUps } = deps;
  // Unknown emails are checked against this hash so they take as long as wrong passwords.
  const decoyHash = await argon2.hash(randomBytes(32).toString('hex'), ARGON2_OPTIONS);

  return {
    async signUp(emailInput, password, client) {
      const email = assertAcceptableCredentials(normalizeEmail(emailInput), password);
      await takeSignUp(signUps, addressBlock(client));
      // Hashed before the email is looked at, so a taken email answers no faster.
      const hash = await argon2.hash(password, ARGON2_OPTIONS);
      try {
        const user = await users.create(email, hash);
        return { user, ...(await tokens.issue(user._id.toHexString())) };
      } catch (error) {
        if (!(error instanceof EmailTakenError)) throw error;
        throw graphqlError(ErrorCode.BAD_USER_INPUT, 'An account with this email already exists', {
          field: 'email',
          reason: 'EMAIL_TAKEN',
        });
      }
    },

    async logIn(emailInput, password, client) {
      // A malformed email still counts against the client, and answers like a wrong password.
      // It is keyed by its hash: as given it may hold what the store cannot keep (a NUL).
      const email =
        normalizeEmail(emailInput) ??
        `invalid:${createHash('sha256').update(emailInput).digest('base64url')}`;
      const admission = await limiter.admit(email, addressBlock(client));
      if (!admission.admitted) {
        const wait = admission.retryAfterSeconds;
        throw graphqlError(ErrorCode.RATE_LIMITED, `Too many failed logins; retry in ${wait} s`, {
          retryAfterSeconds: wait,
        });
      }
      const user = password.length <= MAX_PASSWORD_LENGTH ? await users.findByEmail(email) : null;
      const valid = await argon2.verify(
        user?.passwordHash ?? decoyHash,
        password.slice(0, MAX_PASSWORD_LENGTH),
      );
      // A failure keeps the place admit() took for it.
      if (!user || !valid) throw graphqlError(ErrorCode.UNAUTHENTICATED, 'Wrong email or password');
      await admission.reservation.succeeded();
      return { user, ...(await tokens.issue(user._id.toHexString())) };
    },
  };
}

/**
 * Takes a sign-up from the client's budget, then from the service's; a refusal by the second
 * gives the first its unit back, so a full service does not use up anyone's own budget.
 */
async function takeSignUp(budgets: SignUpBudgets, block: string): Promise<void> {
  const { windows } = budgets;
  const refuse = (wait: number, message: string) =>
    graphqlError(ErrorCode.RATE_LIMITED, `${message}; retry in ${wait} s`, {
      retryAfterSeconds: wait,
    });
  const clientKey = `signup:${block}`;
  const clientWait = await windows.take(clientKey, budgets.perClient);
  if (clientWait > 0) throw refuse(clientWait, 'Too many sign-ups from this address');
  const totalWait = await windows.take(ALL_SIGNUPS, budgets.total);
  if (totalWait > 0) {
    await windows.giveBack(clientKey);
    throw refuse(totalWait, 'Too many sign-ups on this service for now');
  }
}
