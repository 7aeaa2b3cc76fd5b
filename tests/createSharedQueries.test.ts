import type { FormattedExecutionResult } from 'graphql';
import { describe, expect, it } from 'vitest';
import type { QueryBudget } from '../router/createQueryBudget.js';
import { createSharedQueries } from '../router/createSharedQueries.js';

/** A budget that lets queries through only when the test says so, recording who asked. */
function handBudget() {
  const waiting: { userId: string; urgent: boolean; let: () => void }[] = [];
  const budget: QueryBudget = {
    take: (userId, { urgent, signal }) =>
      new Promise((resolve, reject) => {
        const entry = { userId, urgent, let: resolve };
        waiting.push(entry);
        signal?.addEventListener('abort', () => {
          waiting.splice(waiting.indexOf(entry), 1);
          reject(signal.reason as Error);
        });
      }),
  };
  return { budget, waiting, letNext: () => waiting.shift()?.let() };
}

const context = { authorization: 'Bearer t', userId: 'u1', clientAddress: '192.0.2.1' };
const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

describe('createSharedQueries', () => {
  it('runs identical queries once, and distinct ones each in the user’s turn', async () => {
    const { budget, waiting, letNext } = handBudget();
    const executed: string[] = [];
    const queries = createSharedQueries({
      budget,
      execute: async (_context, query) => {
        executed.push(query);
        return { data: { query } };
      },
    });
    const run = queries.runFor(context);
    const signal = new AbortController().signal;
    const a = run('A', {}, { urgent: false, signal });
    const sameA = run('A', {}, { urgent: false, signal });
    const b = run('B', {}, { urgent: true, signal });
    expect(waiting.map((w) => [w.userId, w.urgent])).toEqual([
      ['u1', false],
      ['u1', true],
    ]);
    letNext();
    letNext();
    expect(await Promise.all([a, sameA, b])).toEqual([
      { data: { query: 'A' } },
      { data: { query: 'A' } },
      { data: { query: 'B' } },
    ]);
    expect(executed).toEqual(['A', 'B']);
  });

  it('drops a waiting query once every caller has given up, and runs one still wanted', async () => {
    const { budget, waiting, letNext } = handBudget();
    let executed = 0;
    const queries = createSharedQueries({
      budget,
      execute: async (): Promise<FormattedExecutionResult> => {
        executed++;
        return { data: {} };
      },
    });
    const run = queries.runFor(context);
    const gone = new AbortController();
    const stays = new AbortController();
    const first = run('A', {}, { urgent: false, signal: gone.signal });
    const second = run('A', {}, { urgent: false, signal: stays.signal });
    gone.abort(new Error('gone'));
    expect(waiting).toHaveLength(1);
    letNext();
    await expect(second).resolves.toEqual({ data: {} });
    await expect(first).resolves.toEqual({ data: {} });

    const alone = new AbortController();
    const dropped = run('B', {}, { urgent: false, signal: alone.signal });
    alone.abort(new Error('gone'));
    await expect(dropped).rejects.toThrow('gone');
    await tick();
    expect(waiting).toHaveLength(0);
    expect(executed).toBe(1);
  });
});
