import type { Db } from 'mongodb';
import { createRateWindows, type RateBudget } from '../../lib/stores/createRateWindows.js';

export interface LoginLimits {
  /** Failures for one email from one client address: what stops a single guesser. */
  maxFailuresPerEmail: number;
  /** Failures from one client address, whatever the emails: what stops spraying. */
  maxFailuresPerClient: number;
  /**
   * Failures for one email from every client address this account has never logged in from:
   * what stops guessing spread over many addresses, without locking the owner out.
   */
  maxFailuresPerEmailFromNewClients: number;
  windowSeconds: number;
  /** How long a client address that logged in stays known for its account. */
  knownClientDays: number;
}

/** A login attempt that holds its place in every window that applies to it. */
export interface LoginReservation {
  /** The password was right: the attempt is given back, and the client becomes known. */
  succeeded(): Promise<void>;
}

export type LoginAdmission =
  | { admitted: true; reservation: LoginReservation }
  | { admitted: false; retryAfterSeconds: number };

export interface LoginLimiter {
  /**
   * Counts the attempt as a failure before the password is checked, atomically, so a burst of
   * concurrent guesses cannot all pass before the first failure is written; a right password
   * gives the attempt back. Refused attempts take nothing.
   */
  admit(email: string, client: string, now?: Date): Promise<LoginAdmission>;
}

interface KnownClient {
  _id: string;
  expiresAt: Date;
}

/**
 * Login attempts counted in fixed windows kept in MongoDB, so every auth replica shares them
 * (see SECURITY.md for the policy). A stranger's failures never lock an owner out of an account
 * from an address it has logged in from before: the per-email window for all addresses counts
 * only addresses new to the account.
 */
export function createLoginLimiter(db: Db, limits: LoginLimits): LoginLimiter {
  const windows = createRateWindows(db, 'login_windows');
  const known = db.collection<KnownClient>('login_known_clients');
  const budget = (max: number): RateBudget => ({ max, windowSeconds: limits.windowSeconds });

  const isKnown = async (email: string, client: string, now: Date) =>
    (await known.findOne({ _id: `${email}|${client}`, expiresAt: { $gt: now } })) !== null;

  return {
    async admit(email, client, now = new Date()) {
      const keys: [string, RateBudget][] = [
        [`email+client:${email}|${client}`, budget(limits.maxFailuresPerEmail)],
        [`client:${client}`, budget(limits.maxFailuresPerClient)],
      ];
      if (!(await isKnown(email, client, now))) {
        keys.push([`email:${email}`, budget(limits.maxFailuresPerEmailFromNewClients)]);
      }
      const taken: [string, RateBudget][] = [];
      for (const [key, keyBudget] of keys) {
        const wait = await windows.take(key, keyBudget, now);
        if (wait > 0) {
          await Promise.all(taken.map(([key]) => windows.giveBack(key)));
          return { admitted: false, retryAfterSeconds: wait };
        }
        taken.push([key, keyBudget]);
      }
      return {
        admitted: true,
        reservation: {
          async succeeded() {
            // The owner's own earlier typos from this address are forgiven.
            const [pair, ...others] = taken.map(([key]) => key);
            if (pair !== undefined) await windows.clear(pair);
            await Promise.all(others.map((key) => windows.giveBack(key)));
            // The owner, from here: earlier guesses from elsewhere no longer stand in its way.
            const expiresAt = new Date(Date.now() + limits.knownClientDays * 86_400_000);
            await known.updateOne(
              { _id: `${email}|${client}` },
              { $set: { expiresAt } },
              { upsert: true },
            );
          },
        },
      };
    },
  };
}
