import type { FormattedExecutionResult, GraphQLFormattedError } from 'graphql';
import { isFinalStatus } from '../lib/contracts/conversionStatus.js';
import { ErrorCode } from '../lib/contracts/errors.js';
import type { ConversionEvents } from './createConversionEvents.js';
import { STATUS_ALIAS, type ConversionWatchPlan } from './planConversionWatch.js';

/**
 * Runs the plan's query through the gateway as the subscriber, in the subscriber's turn:
 * `urgent` when a final state is to be fetched, `signal` aborted when nobody wants the answer.
 */
export type RunQuery = (
  query: string,
  variables: Record<string, unknown>,
  options: { urgent: boolean; signal: AbortSignal },
) => Promise<FormattedExecutionResult>;

/** An answer with no conversion and no error says nothing any event could change. */
const NOTHING_ANSWERED: GraphQLFormattedError = {
  message: 'The subscription found nothing to follow',
  extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR },
};

/** What the first query found: something to send, nothing yet, or an error to refuse with. */
export type FirstLook =
  | { kind: 'found' }
  | { kind: 'waiting' }
  | { kind: 'refused'; errors: readonly GraphQLFormattedError[] };

export interface ConversionWatch extends AsyncIterableIterator<FormattedExecutionResult> {
  /** Starts listening, then runs the first query (events during it are not lost). */
  start(): Promise<FirstLook>;
}

/**
 * One subscriber's view of one conversion, pulled by graphql-ws: each `next()` waits until an
 * event (or the start) makes the state worth asking for, runs the query, and skips a result
 * identical to the last one sent. Events that arrive while a query waits its turn or runs
 * collapse into one more query, so a slow client, a busy budget or a burst of progress costs
 * one query, not a backlog; the final state is never skipped. It completes after a final
 * status, or an error without data, or an answer where no event could bring a conversion.
 * `return()` (client gone, `complete` sent, socket closed) stops listening at once, even while
 * a `next()` is waiting, and gives up a query still waiting its turn.
 */
export function createConversionWatch(options: {
  plan: ConversionWatchPlan;
  ownerId: string;
  events: ConversionEvents;
  run: RunQuery;
  onClose: () => void;
}): ConversionWatch {
  const { plan } = options;
  let stale = true;
  let urgent = false;
  let closed = false;
  let finished = false;
  let lastSent: string | undefined;
  let pending: FormattedExecutionResult | undefined;
  let wakeUp: (() => void) | undefined;
  let stopListening: (() => void) | undefined;
  const stop = new AbortController();

  const close = () => {
    if (closed) return;
    closed = true;
    stopListening?.();
    stop.abort();
    wakeUp?.();
    options.onClose();
  };

  /** The next result worth sending, or undefined when there is nothing to send yet. */
  const look = async (): Promise<FormattedExecutionResult | undefined> => {
    stale = false;
    const asUrgent = urgent;
    urgent = false;
    const result = await options.run(plan.query, plan.variables, {
      urgent: asUrgent,
      signal: stop.signal,
    });
    const found = result.data ? plan.find(result.data) : ({ kind: 'missing' } as const);
    if (found.kind !== 'found') {
      // A video whose conversion is not created yet: its first event will bring it.
      if (found.kind === 'notYet' && !result.errors?.length) return undefined;
      finished = true;
      return { errors: result.errors?.length ? result.errors : [NOTHING_ANSWERED] };
    }
    const { [STATUS_ALIAS]: status, ...selected } = found.conversion;
    if (typeof status === 'string' && isFinalStatus(status)) finished = true;
    const value: FormattedExecutionResult = {
      data: { [plan.responseKey]: selected },
      ...(result.errors?.length ? { errors: result.errors } : {}),
    };
    const serialized = JSON.stringify(value);
    if (serialized === lastSent && !finished) return undefined;
    lastSent = serialized;
    return value;
  };

  const done = (): IteratorResult<FormattedExecutionResult> => {
    close();
    return { done: true, value: undefined };
  };

  const watch: ConversionWatch = {
    async start() {
      stopListening = options.events.watch(plan.target, options.ownerId, (final) => {
        stale = true;
        if (final) urgent = true;
        wakeUp?.();
        wakeUp = undefined;
      });
      try {
        pending = await look();
      } catch (error) {
        close();
        throw error;
      }
      if (pending?.data === undefined && pending?.errors) {
        close();
        return { kind: 'refused', errors: pending.errors };
      }
      return pending ? { kind: 'found' } : { kind: 'waiting' };
    },
    async next() {
      if (pending) {
        const value = pending;
        pending = undefined;
        return { done: false, value };
      }
      while (!closed && !finished) {
        if (!stale) await new Promise<void>((resolve) => (wakeUp = resolve));
        if (closed) break;
        let value: FormattedExecutionResult | undefined;
        try {
          value = await look();
        } catch (error) {
          // Closed while the query waited its turn: the wait was given up.
          if (closed) break;
          throw error;
        }
        if (closed) break;
        if (value) return { done: false, value };
      }
      return done();
    },
    async return() {
      return done();
    },
    [Symbol.asyncIterator]() {
      return watch;
    },
  };
  return watch;
}
