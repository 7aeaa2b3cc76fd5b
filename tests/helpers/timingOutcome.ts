/** The middle value of `values` (the upper of the two middle ones for an even count). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/**
 * What SECURITY.md records for two kinds of request that must take about as long (an answer's
 * time must not tell them apart): `same` when the medians are within 2× of each other, else
 * their ratio.
 */
export function timingOutcome(
  same: string,
  timings: readonly number[],
  otherTimings: readonly number[],
): string {
  const ratio = median(timings) / median(otherTimings);
  return ratio > 0.5 && ratio < 2 ? `${same}, medians within 2×` : `ratio ${ratio}`;
}
