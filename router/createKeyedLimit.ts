/** At most `limit` of something at once per key: sockets per user, subscriptions per address. */
export interface KeyedLimit {
  readonly limit: number;
  /**
   * Takes one place under `key`: returns the function that gives it back (calling it again does
   * nothing), or undefined when all `limit` places are taken.
   */
  take(key: string): (() => void) | undefined;
}

/** Counts in memory, per process: each router replica enforces its own limits. */
export function createKeyedLimit(limit: number): KeyedLimit {
  const held = new Map<string, number>();
  return {
    limit,
    take(key) {
      const count = held.get(key) ?? 0;
      if (count >= limit) return undefined;
      held.set(key, count + 1);
      let given = false;
      return () => {
        if (given) return;
        given = true;
        const left = (held.get(key) ?? 1) - 1;
        if (left === 0) held.delete(key);
        else held.set(key, left);
      };
    },
  };
}
