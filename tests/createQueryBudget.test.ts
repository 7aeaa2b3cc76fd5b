import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createQueryBudget } from '../router/createQueryBudget.js';

/** Takes for `user` and records the order in which they are let through. */
function taker(budget: ReturnType<typeof createQueryBudget>, order: string[]) {
  return (user: string, label: string, options: { urgent?: boolean; signal?: AbortSignal } = {}) =>
    budget
      .take(user, {
        urgent: options.urgent ?? false,
        ...(options.signal ? { signal: options.signal } : {}),
      })
      .then(() => order.push(label));
}

describe('createQueryBudget: each user’s subscriptions share one rate of gateway queries', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('lets a burst through at once, then one query per 1/perSecond', async () => {
    const order: string[] = [];
    const take = taker(createQueryBudget({ perSecond: 10, burst: 3 }), order);
    for (let i = 0; i < 6; i++) void take('u', `q${i}`);
    await vi.advanceTimersByTimeAsync(0);
    expect(order).toEqual(['q0', 'q1', 'q2']);
    await vi.advanceTimersByTimeAsync(100);
    expect(order).toHaveLength(4);
    await vi.advanceTimersByTimeAsync(200);
    expect(order).toEqual(['q0', 'q1', 'q2', 'q3', 'q4', 'q5']);
  });

  it('never lets one user past perSecond over a long run, however many wait', async () => {
    const order: string[] = [];
    const take = taker(createQueryBudget({ perSecond: 10 }), order);
    for (let i = 0; i < 500; i++) void take('u', `q${i}`);
    await vi.advanceTimersByTimeAsync(10_000);
    // The burst (2 × 10), then 10 a second.
    expect(order.length).toBeLessThanOrEqual(20 + 100);
    expect(order.length).toBeGreaterThanOrEqual(20 + 99);
  });

  it('keeps users apart: one user’s queue does not delay another', async () => {
    const order: string[] = [];
    const take = taker(createQueryBudget({ perSecond: 1, burst: 1 }), order);
    for (let i = 0; i < 5; i++) void take('greedy', `g${i}`);
    void take('other', 'o0');
    await vi.advanceTimersByTimeAsync(0);
    expect(order).toEqual(['g0', 'o0']);
  });

  it('lets urgent queries (final states) go before the waiting others, in order', async () => {
    const order: string[] = [];
    const take = taker(createQueryBudget({ perSecond: 10, burst: 1 }), order);
    void take('u', 'first');
    void take('u', 'progress1');
    void take('u', 'progress2');
    void take('u', 'final1', { urgent: true });
    void take('u', 'final2', { urgent: true });
    await vi.advanceTimersByTimeAsync(1_000);
    expect(order).toEqual(['first', 'final1', 'final2', 'progress1', 'progress2']);
  });

  it('gives up a waiting query when its signal aborts, and its turn goes to the next', async () => {
    const order: string[] = [];
    const budget = createQueryBudget({ perSecond: 10, burst: 1 });
    const take = taker(budget, order);
    void take('u', 'first');
    const controller = new AbortController();
    const givenUp = budget.take('u', { urgent: false, signal: controller.signal });
    void take('u', 'next');
    controller.abort(new Error('subscriber gone'));
    await expect(givenUp).rejects.toThrow('subscriber gone');
    await vi.advanceTimersByTimeAsync(100);
    expect(order).toEqual(['first', 'next']);
    await expect(budget.take('u', { urgent: false, signal: controller.signal })).rejects.toThrow(
      'subscriber gone',
    );
  });

  it('forgets a user whose bucket is full again: no timer is left behind', async () => {
    const order: string[] = [];
    const take = taker(createQueryBudget({ perSecond: 10, burst: 2 }), order);
    for (const label of ['a', 'b', 'c']) void take('u', label);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(order).toEqual(['a', 'b', 'c']);
    expect(vi.getTimerCount()).toBe(0);
  });
});
