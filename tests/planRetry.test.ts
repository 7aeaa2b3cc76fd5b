import { describe, expect, it } from 'vitest';
import { planRetry } from '../subgraphs/notification/planRetry.js';

describe('planRetry', () => {
  const schedule = [5_000, 300_000, 1_800_000];
  const now = new Date('2026-01-01T00:00:00Z');
  const after = (round: number, random: number) =>
    planRetry(round, schedule, now, () => random)!.getTime() - now.getTime();

  it('waits what the schedule says for each round, varied by at most 20 %', () => {
    expect(after(0, 0.5)).toBe(5_000);
    expect(after(1, 0)).toBe(240_000);
    expect(after(1, 1)).toBe(360_000);
    expect(after(2, 0.5)).toBe(1_800_000);
  });

  it('gives up once the schedule is spent', () => {
    expect(planRetry(3, schedule, now)).toBeNull();
    expect(planRetry(0, [], now)).toBeNull();
  });

  it('spreads the retries of one outage instead of sending them together', () => {
    const waits = new Set(Array.from({ length: 50 }, () => planRetry(1, schedule, now)!.getTime()));
    expect(waits.size).toBeGreaterThan(40);
  });
});
