/**
 * When a delivery whose attempt just failed is tried next: after the wait its `round` (failed
 * attempts so far, this one not counted) names in `scheduleMs`, varied by ±20 % so the retries
 * of many deliveries failed by one outage do not arrive together. Null once the schedule is
 * spent: the delivery has failed for good.
 */
export function planRetry(
  round: number,
  scheduleMs: readonly number[],
  now: Date,
  random: () => number = Math.random,
): Date | null {
  const wait = scheduleMs[round];
  if (wait === undefined) return null;
  return new Date(now.getTime() + Math.round(wait * (0.8 + 0.4 * random())));
}
