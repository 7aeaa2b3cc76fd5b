import type { Db } from 'mongodb';
import { ErrorCode, graphqlError } from '../contracts/errors.js';
import { isDuplicateKeyError } from '../platform/mongo.js';

/** A budget: at most `max` units per fixed window of `windowSeconds`. */
export interface RateBudget {
  max: number;
  windowSeconds: number;
}

export interface RateWindows {
  /**
   * Takes one unit of `key`'s budget, atomically, so that concurrent callers cannot all pass
   * on the same last unit. Returns 0 when taken, or the seconds until the window ends when
   * none is left (then nothing was taken).
   */
  take(key: string, budget: RateBudget, now?: Date): Promise<number>;
  /** Gives back a unit `take` took (an attempt that turned out not to count). */
  giveBack(key: string): Promise<void>;
  /** Forgets `key`'s window. */
  clear(key: string): Promise<void>;
}

interface WindowDocument {
  _id: string;
  count: number;
  /** The window opens at a key's first unit and closes here. */
  resetAt: Date;
}

/**
 * Counters per key in MongoDB, shared by every replica of a service (login attempts, sign-ups,
 * uploads and requests per minute). A window opens with a key's first unit and lasts
 * `windowSeconds`. Each step of `take` is one conditional write (count a unit in an open
 * window with room, restart an expired window, insert a new one), so concurrent callers cannot
 * all pass on the same last unit. Expired windows are removed in code: FerretDB has no TTL
 * indexes.
 */
export function createRateWindows(db: Db, collectionName = 'rate_windows'): RateWindows {
  const windows = db.collection<WindowDocument>(collectionName);
  let lastSweep = 0;

  const sweep = async (now: Date) => {
    if (now.getTime() - lastSweep < 60_000) return;
    lastSweep = now.getTime();
    await windows.deleteMany({ resetAt: { $lte: now } });
  };

  return {
    async take(_id, budget, now = new Date()) {
      await sweep(now);
      const resetAt = new Date(now.getTime() + budget.windowSeconds * 1000);
      // Three rounds at most: each lost race means another caller's write went in first.
      for (let round = 0; round < 3; round++) {
        const counted = await windows.updateOne(
          { _id, resetAt: { $gt: now }, count: { $lt: budget.max } },
          { $inc: { count: 1 } },
        );
        if (counted.matchedCount === 1) return 0;
        const restarted = await windows.updateOne(
          { _id, resetAt: { $lte: now } },
          { $set: { count: 1, resetAt } },
        );
        if (restarted.matchedCount === 1) return 0;
        const current = await windows.findOne({ _id });
        if (current && current.resetAt > now && current.count >= budget.max) {
          // Clamped: a caller whose clock read came before the window's opener can see more.
          const seconds = Math.ceil((current.resetAt.getTime() - now.getTime()) / 1000);
          return Math.min(budget.windowSeconds, Math.max(1, seconds));
        }
        if (current) continue;
        try {
          await windows.insertOne({ _id, count: 1, resetAt });
          return 0;
        } catch (error) {
          if (!isDuplicateKeyError(error)) throw error;
        }
      }
      return 1;
    },

    async giveBack(_id) {
      await windows.updateOne({ _id, count: { $gt: 0 } }, { $inc: { count: -1 } });
    },

    async clear(_id) {
      await windows.deleteOne({ _id });
    },
  };
}

/**
 * Takes one unit of `key`'s budget, or throws RATE_LIMITED with `retryAfterSeconds`, for
 * resolvers that count what a user does per minute.
 */
export async function spendOrRefuse(
  windows: RateWindows,
  key: string,
  budget: RateBudget,
  what: string,
): Promise<void> {
  const wait = await windows.take(key, budget);
  if (wait > 0) {
    throw graphqlError(ErrorCode.RATE_LIMITED, `Too many ${what}; retry in ${wait} s`, {
      retryAfterSeconds: wait,
    });
  }
}
