/** Bounds how fast one user's subscriptions may run gateway queries. */
export interface QueryBudget {
  /**
   * Resolves when `userId` may start one more query. Queries wait their turn in order, urgent
   * ones (a final state to fetch) before the others. Rejects with the signal's reason if
   * `signal` aborts first, and the place is given to the next in line.
   */
  take(userId: string, options: { urgent: boolean; signal?: AbortSignal }): Promise<void>;
}

export interface QueryBudgetOptions {
  /** Queries a second one user may start, on average. */
  perSecond: number;
  /**
   * Queries a user may start at once after a quiet spell (a page that opens its watches).
   * @default 2 × perSecond
   */
  burst?: number;
  now?: () => number;
}

interface Waiter {
  urgent: boolean;
  resolve: () => void;
  signal: AbortSignal | undefined;
  onAbort: () => void;
}

interface Bucket {
  tokens: number;
  /** When `tokens` was last brought up to date. */
  at: number;
  waiting: Waiter[];
  timer: ReturnType<typeof setTimeout> | undefined;
}

/**
 * A token bucket per user, with a queue. A user's subscriptions cannot cost the gateway more
 * than `perSecond` queries a second, however many there are and however often their events
 * come: each watch folds the events that arrive while it waits into the one query it is waiting
 * to run, so waiting delays states but drops none. A bucket that is full and has nobody waiting
 * is forgotten: memory follows the users active in the last few seconds.
 */
export function createQueryBudget(options: QueryBudgetOptions): QueryBudget {
  const { perSecond, burst = 2 * perSecond, now = () => Date.now() } = options;
  const buckets = new Map<string, Bucket>();

  const refill = (bucket: Bucket) => {
    const at = now();
    bucket.tokens = Math.min(burst, bucket.tokens + ((at - bucket.at) * perSecond) / 1000);
    bucket.at = at;
  };

  /** Lets waiters through while there are tokens, then sets the one timer the bucket needs. */
  const settle = (userId: string, bucket: Bucket) => {
    refill(bucket);
    while (bucket.tokens >= 1 && bucket.waiting.length > 0) {
      const waiter = bucket.waiting.shift() as Waiter;
      bucket.tokens -= 1;
      waiter.signal?.removeEventListener('abort', waiter.onAbort);
      waiter.resolve();
    }
    clearTimeout(bucket.timer);
    bucket.timer = undefined;
    if (bucket.waiting.length === 0 && bucket.tokens >= burst) {
      buckets.delete(userId);
      return;
    }
    // Until the next token for a waiter, or until the bucket is full and can be forgotten.
    const missing = bucket.waiting.length > 0 ? 1 - bucket.tokens : burst - bucket.tokens;
    bucket.timer = setTimeout(
      () => settle(userId, bucket),
      Math.max(1, Math.ceil((missing * 1000) / perSecond)),
    );
    bucket.timer.unref?.();
  };

  return {
    take(userId, { urgent, signal }) {
      if (signal?.aborted) return Promise.reject(abortReason(signal));
      let bucket = buckets.get(userId);
      if (!bucket) {
        bucket = { tokens: burst, at: now(), waiting: [], timer: undefined };
        buckets.set(userId, bucket);
      }
      const current = bucket;
      return new Promise<void>((resolve, reject) => {
        const waiter: Waiter = {
          urgent,
          resolve,
          signal,
          onAbort: () => {
            const index = current.waiting.indexOf(waiter);
            if (index === -1) return;
            current.waiting.splice(index, 1);
            reject(abortReason(signal));
            settle(userId, current);
          },
        };
        // After the urgent ones already waiting, or last.
        const firstNormal = current.waiting.findIndex((w) => !w.urgent);
        if (urgent && firstNormal !== -1) current.waiting.splice(firstNormal, 0, waiter);
        else current.waiting.push(waiter);
        signal?.addEventListener('abort', waiter.onAbort, { once: true });
        settle(userId, current);
      });
    },
  };
}

function abortReason(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  return reason instanceof Error ? reason : new Error('aborted');
}
