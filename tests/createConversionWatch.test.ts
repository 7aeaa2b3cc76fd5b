import type { FormattedExecutionResult } from 'graphql';
import { describe, expect, it } from 'vitest';
import type { ConversionEvents, Wake } from '../router/createConversionEvents.js';
import { createConversionWatch } from '../router/createConversionWatch.js';
import { STATUS_ALIAS, type ConversionWatchPlan } from '../router/planConversionWatch.js';

/**
 * A plan for `conversionUpdated(id: "c1") { status progress }`, as planConversionWatch makes
 * it, except that `conversion: null` stands for a video whose conversion is not made yet (the
 * real plan says so of `video { latestConversion: null }`).
 */
const plan: ConversionWatchPlan = {
  responseKey: 'conversionUpdated',
  target: { conversionId: 'c1' },
  query: 'query ($id: ID!) { conversion(id: $id) { status progress _reelfluxStatus: status } }',
  variables: { id: 'c1' },
  find: (data) => {
    if (data.conversion) {
      return { kind: 'found', conversion: data.conversion as Record<string, unknown> };
    }
    return data.conversion === null ? { kind: 'notYet' } : { kind: 'missing' };
  },
};

const state = (status: string, progress: number | null = null): FormattedExecutionResult => ({
  data: { conversion: { status, progress, [STATUS_ALIAS]: status } },
});
const sent = (status: string, progress: number | null = null) => ({
  done: false,
  value: { data: { conversionUpdated: { status, progress } } },
});

/**
 * The watch with fakes for its two edges: events (woken by hand) and the query (answers
 * queued by the test, counted). Pure logic: the real gateway and broker are in the e2e suite.
 */
function harness(answers: FormattedExecutionResult[]) {
  let wake: Wake | undefined;
  let listening = false;
  let closed = 0;
  let runs = 0;
  const urgent: boolean[] = [];
  let release: (() => void) | undefined;
  let holdNext = false;
  let gaveUp = false;
  const events: ConversionEvents = {
    watch(_target, ownerId, onEvent) {
      expect(ownerId).toBe('owner-1');
      listening = true;
      wake = onEvent;
      return () => {
        listening = false;
      };
    },
  };
  const watch = createConversionWatch({
    plan,
    ownerId: 'owner-1',
    events,
    onClose: () => closed++,
    run: async (_query, _variables, options) => {
      runs++;
      urgent.push(options.urgent);
      if (holdNext) {
        holdNext = false;
        // As a query waiting for its user's budget: it gives up when the signal aborts.
        await new Promise<void>((resolve, reject) => {
          release = resolve;
          options.signal.addEventListener('abort', () => {
            gaveUp = true;
            reject(new Error('given up'));
          });
        });
      }
      const answer = answers.shift();
      if (!answer) throw new Error('no answer queued');
      return answer;
    },
  });
  return {
    watch,
    event: (final = false) => wake?.(final),
    /** The next query waits until `release()`, to send events while it runs. */
    hold: () => (holdNext = true),
    release: () => release?.(),
    get runs() {
      return runs;
    },
    /** Whether each query was run as urgent (a final state to fetch). */
    urgent,
    get gaveUp() {
      return gaveUp;
    },
    get listening() {
      return listening;
    },
    get closed() {
      return closed;
    },
  };
}

describe('createConversionWatch: one subscriber following one conversion', () => {
  it('sends the current state, then each change an event brings, and completes after the final one', async () => {
    const h = harness([state('QUEUED'), state('RUNNING', 0.5), state('SUCCEEDED', 1)]);
    expect(await h.watch.start()).toEqual({ kind: 'found' });
    expect(await h.watch.next()).toEqual(sent('QUEUED'));
    h.event();
    expect(await h.watch.next()).toEqual(sent('RUNNING', 0.5));
    h.event();
    expect(await h.watch.next()).toEqual(sent('SUCCEEDED', 1));
    expect(await h.watch.next()).toEqual({ done: true, value: undefined });
    expect(h.listening).toBe(false);
    expect(h.closed).toBe(1);
  });

  it('skips a state identical to the last one sent', async () => {
    const h = harness([state('RUNNING', 0.5), state('RUNNING', 0.5), state('RUNNING', 0.75)]);
    await h.watch.start();
    await h.watch.next();
    const next = h.watch.next();
    h.event();
    await new Promise((resolve) => setTimeout(resolve, 10));
    h.event();
    expect(await next).toEqual(sent('RUNNING', 0.75));
    expect(h.runs).toBe(3);
  });

  it('folds the events that arrive while a query runs into one more query', async () => {
    const h = harness([state('QUEUED'), state('RUNNING', 0.1), state('RUNNING', 0.4)]);
    await h.watch.start();
    await h.watch.next();
    h.hold();
    const first = h.watch.next();
    h.event();
    await new Promise((resolve) => setTimeout(resolve, 10));
    for (let i = 0; i < 5; i++) h.event();
    h.release();
    expect(await first).toEqual(sent('RUNNING', 0.1));
    expect(await h.watch.next()).toEqual(sent('RUNNING', 0.4));
    expect(h.runs).toBe(3);
  });

  it('waits for a video whose conversion is not made yet', async () => {
    const h = harness([{ data: { conversion: null } }, state('QUEUED')]);
    expect(await h.watch.start()).toEqual({ kind: 'waiting' });
    const next = h.watch.next();
    h.event();
    expect(await next).toEqual(sent('QUEUED'));
  });

  it('refuses at start with the errors of a query that found nothing to show', async () => {
    const errors = [{ message: 'Conversion not found', extensions: { code: 'NOT_FOUND' } }];
    const h = harness([{ data: { conversion: null }, errors }]);
    expect(await h.watch.start()).toEqual({ kind: 'refused', errors });
    expect(h.listening).toBe(false);
    expect(h.closed).toBe(1);
  });

  it('stops at once on return(), even while next() waits for an event', async () => {
    const h = harness([state('RUNNING', 0.2)]);
    await h.watch.start();
    await h.watch.next();
    const waiting = h.watch.next();
    await h.watch.return?.();
    expect(await waiting).toEqual({ done: true, value: undefined });
    expect(h.listening).toBe(false);
    expect(h.closed).toBe(1);
    h.event();
    expect(h.runs).toBe(1);
  });

  it('ends with an error when an answer holds neither the conversion nor an error', async () => {
    // What a root field skipped by @skip answered: `data: {}`, and no event would change it.
    const atStart = harness([{ data: {} }]);
    expect(await atStart.watch.start()).toEqual({
      kind: 'refused',
      errors: [expect.objectContaining({ extensions: { code: 'INTERNAL_SERVER_ERROR' } })],
    });
    expect(atStart.closed).toBe(1);

    const later = harness([state('RUNNING', 0.2), { data: {} }]);
    await later.watch.start();
    await later.watch.next();
    later.event();
    expect(await later.watch.next()).toEqual({
      done: false,
      value: { errors: [expect.objectContaining({ message: expect.any(String) })] },
    });
    expect(await later.watch.next()).toEqual({ done: true, value: undefined });
    expect(later.listening).toBe(false);
  });

  it('runs the query after a final event as urgent, and the others not', async () => {
    const h = harness([state('RUNNING', 0.1), state('RUNNING', 0.2), state('CANCELLED', 0.2)]);
    await h.watch.start();
    await h.watch.next();
    h.event();
    await h.watch.next();
    h.event(true);
    expect(await h.watch.next()).toEqual(sent('CANCELLED', 0.2));
    expect(h.urgent).toEqual([false, false, true]);
  });

  it('gives up a query still waiting its turn when the subscriber goes', async () => {
    const h = harness([state('RUNNING', 0.1)]);
    await h.watch.start();
    await h.watch.next();
    h.hold();
    const waiting = h.watch.next();
    h.event();
    await new Promise((resolve) => setTimeout(resolve, 10));
    await h.watch.return?.();
    expect(await waiting).toEqual({ done: true, value: undefined });
    expect(h.gaveUp).toBe(true);
    expect(h.closed).toBe(1);
  });
});
