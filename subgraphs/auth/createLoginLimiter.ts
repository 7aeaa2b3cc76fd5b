import type { Db } from 'mongodb';

export interface LoginLimits {
  maxFailuresPerEmail: number;
  maxFailuresPerClient: number;
  windowSeconds: number;
}

interface FailureWindow {
  _id: string;
  count: number;
  resetAt: Date;
}

export interface LoginLimiter {
  /** Seconds until the caller may try again, or 0 when not limited. */
  retryAfter(email: string, client: string, now?: Date): Promise<number>;
  recordFailure(email: string, client: string, now?: Date): Promise<void>;
  /** A successful login clears its email's window (not the client's: one good account must
   * not unlock guessing at others from the same address). */
  clearEmail(email: string): Promise<void>;
}

/**
 * Fixed-window failure counters per email and per client address, kept in MongoDB so every
 * auth replica shares them. Checked before the password is, so a locked-out attacker costs
 * us no argon2 work. Expired windows are removed in code: FerretDB has no TTL indexes.
 */
export function createLoginLimiter(db: Db, limits: LoginLimits): LoginLimiter {
  const windows = db.collection<FailureWindow>('login_failures');
  const keys = (email: string, client: string) =>
    [
      { id: `email:${email}`, max: limits.maxFailuresPerEmail },
      { id: `client:${client}`, max: limits.maxFailuresPerClient },
    ] as const;
  let lastSweep = 0;

  return {
    async retryAfter(email, client, now = new Date()) {
      const checks = keys(email, client);
      const found = await windows
        .find({ _id: { $in: checks.map((key) => key.id) }, resetAt: { $gt: now } })
        .toArray();
      let wait = 0;
      for (const window of found) {
        const max = checks.find((key) => key.id === window._id)?.max ?? Infinity;
        if (window.count >= max) {
          wait = Math.max(wait, Math.ceil((window.resetAt.getTime() - now.getTime()) / 1000));
        }
      }
      return wait;
    },

    async recordFailure(email, client, now = new Date()) {
      const resetAt = new Date(now.getTime() + limits.windowSeconds * 1000);
      for (const { id } of keys(email, client)) {
        const open = await windows.updateOne(
          { _id: id, resetAt: { $gt: now } },
          { $inc: { count: 1 } },
        );
        if (open.matchedCount === 0) {
          await windows.updateOne({ _id: id }, { $set: { count: 1, resetAt } }, { upsert: true });
        }
      }
      if (now.getTime() - lastSweep > 60_000) {
        lastSweep = now.getTime();
        await windows.deleteMany({ resetAt: { $lte: now } });
      }
    },

    async clearEmail(email) {
      await windows.deleteOne({ _id: `email:${email}` });
    },
  };
}
