import type { FormattedExecutionResult } from 'graphql';
import type { QueryBudget } from './createQueryBudget.js';
import type { RunQuery } from './createConversionWatch.js';
import type { RouterContext } from './RouterContext.js';

/** Runs one query through the gateway with the caller's context; errors come back as results. */
export type ExecuteQuery = (
  context: RouterContext,
  query: string,
  variables: Record<string, unknown>,
) => Promise<FormattedExecutionResult>;

export interface SharedQueries {
  /** The RunQuery of one subscriber, whose user is `context.userId`. */
  runFor(context: RouterContext & { userId: string }): RunQuery;
}

interface Shared {
  result: Promise<FormattedExecutionResult>;
  /** Callers that still want the answer. */
  wanted: number;
  started: boolean;
  giveUp: AbortController;
}

/**
 * The gateway queries of every subscription on this router. Subscribers of the same conversion
 * with the same token and selection share one query per wake-up, so one event fans out to many
 * sockets without multiplying gateway work; a query no one shares waits for its user's budget
 * first, so many distinct selections (an alias each) cannot multiply it either. A query whose
 * every caller gave up while it waited is dropped before it runs.
 */
export function createSharedQueries(options: {
  execute: ExecuteQuery;
  budget: QueryBudget;
  /** Called for each query that goes to the gateway (a metric). */
  onRun?: () => void;
}): SharedQueries {
  const inFlight = new Map<string, Shared>();

  const start = (
    key: string,
    context: RouterContext & { userId: string },
    query: string,
    variables: Record<string, unknown>,
    urgent: boolean,
  ): Shared => {
    const shared: Shared = {
      result: Promise.resolve({}),
      wanted: 0,
      started: false,
      giveUp: new AbortController(),
    };
    shared.result = options.budget
      .take(context.userId, { urgent, signal: shared.giveUp.signal })
      .then(() => {
        shared.started = true;
        options.onRun?.();
        return options.execute(context, query, variables);
      })
      .finally(() => {
        if (inFlight.get(key) === shared) inFlight.delete(key);
      });
    inFlight.set(key, shared);
    return shared;
  };

  return {
    runFor(context) {
      return (query, variables, { urgent, signal }) => {
        const key = `${context.authorization ?? ''}\n${query}\n${JSON.stringify(variables)}`;
        const shared = inFlight.get(key) ?? start(key, context, query, variables, urgent);
        shared.wanted += 1;
        const onAbort = () => {
          shared.wanted -= 1;
          if (shared.wanted > 0 || shared.started) return;
          // Nobody joins a query that is being given up.
          if (inFlight.get(key) === shared) inFlight.delete(key);
          shared.giveUp.abort(signal.reason);
        };
        signal.addEventListener('abort', onAbort, { once: true });
        if (signal.aborted) onAbort();
        return shared.result.finally(() => signal.removeEventListener('abort', onAbort));
      };
    },
  };
}
