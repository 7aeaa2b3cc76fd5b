import type { ConversionEngine } from '../../lib/conversions/createConversionEngine.js';
import type { Logger } from '../../lib/platform/logger.js';
import { createRecurringPass, type RecurringPass } from '../../lib/platform/createRecurringPass.js';

/**
 * Stuck-state recovery, on a timer in every replica (each change is a compare-and-set, so
 * replicas do not double it): hands a conversion whose worker went silent (frozen, cut off, or
 * gone without RabbitMQ noticing) to another worker, and sends again a job that may have been
 * lost, and publishes the `conversion.finished` a broker outage kept in. A stale worker that
 * wakes up finds its run taken and stops. (A job whose sender failed
 * before sending is the dispatcher's.)
 */
export function createSweeper(deps: {
  engine: ConversionEngine;
  /** See ConversionConfig.staleAfterMs. */
  staleAfterMs: number;
  log: Logger;
}): RecurringPass {
  const { engine, log, staleAfterMs } = deps;

  const sweep = async () => {
    const cutoff = new Date(Date.now() - staleAfterMs);
    // A job still QUEUED long after it was sent may have been lost (a purged queue); as it
    // holds its owner's turn, send it again. A worker drops whichever copy comes second.
    for (const record of await engine.sentBefore(new Date(Date.now() - 5 * staleAfterMs))) {
      log.warn(
        { conversionId: record._id.toHexString() },
        'sweeper: job sent long ago; sending it again',
      );
      await engine.resend(record);
    }
    // Final states whose conversion.finished did not go out (the broker was away): a few
    // seconds' grace, so one still being published by its worker is not sent twice.
    const announced = await engine.announceFinished(new Date(Date.now() - 10_000));
    if (announced > 0) log.warn({ announced }, 'sweeper: sent conversion.finished left unsent');
    for (;;) {
      const reclaimed = await engine.reclaimSilent(cutoff);
      if (!reclaimed) break;
      log.warn(
        { conversionId: reclaimed._id.toHexString(), attempts: reclaimed.attempts },
        'sweeper: worker silent; sending the job again',
      );
    }
  };

  // Every quarter of staleAfterMs, at most every 15 s.
  return createRecurringPass(sweep, {
    intervalMs: Math.min(15_000, staleAfterMs / 4),
    log,
    failure: 'sweeper pass failed; trying later',
  });
}
