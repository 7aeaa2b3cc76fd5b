import type { Logger } from './logger.js';

/** Work done again and again on a timer, one pass at a time in this process. */
export interface RecurringPass {
  /**
   * Runs a pass now, or joins the one in progress. Never rejects: a failed pass (a database
   * away, say) is logged, and the next one tries again.
   */
  run: () => Promise<void>;
  /** Runs a pass every `intervalMs`; the timer keeps no process alive. */
  start: () => void;
  /** Stops the timer and waits for a pass in progress. */
  stop: () => Promise<void>;
}

/**
 * A recurring `pass` (stuck-state recovery, cleanup, fair turns): every replica may run its
 * own, as the work it does is safe to race; `failure` is the warning a failed pass logs.
 */
export function createRecurringPass(
  pass: () => Promise<unknown>,
  options: { intervalMs: number; log: Logger; failure: string },
): RecurringPass {
  let running: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  const run = () =>
    (running ??= pass()
      .then(() => undefined)
      .catch((error: unknown) => options.log.warn({ err: error }, options.failure))
      .finally(() => (running = undefined)));
  return {
    run,
    start: () => {
      timer = setInterval(() => void run(), options.intervalMs);
      timer.unref();
    },
    stop: async () => {
      clearInterval(timer);
      await running;
    },
  };
}
