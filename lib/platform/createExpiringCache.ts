/**
 * A bounded map whose entries expire at a time given when they are set. When full, the oldest
 * entry goes, so a flood of distinct keys costs memory up to `maxEntries` and no more. Used for
 * verified tokens and for the router's account answers.
 */
export function createExpiringCache<T>(maxEntries: number, now = () => Date.now()) {
  const entries = new Map<string, { value: T; until: number }>();
  return {
    get(key: string): T | undefined {
      const entry = entries.get(key);
      if (!entry) return undefined;
      if (entry.until <= now()) {
        entries.delete(key);
        return undefined;
      }
      return entry.value;
    },
    set(key: string, value: T, untilMs: number): void {
      // Deleted first so a renewed key counts as the newest, not the oldest.
      entries.delete(key);
      if (entries.size >= maxEntries) entries.delete(entries.keys().next().value as string);
      entries.set(key, { value, until: untilMs });
    },
    /** The value only if it is still the one stored (a newer set may have replaced it). */
    deleteIf(key: string, value: T): void {
      if (entries.get(key)?.value === value) entries.delete(key);
    },
  };
}
