import type {
  ConversionEngine,
  ConversionRecord,
} from '../../lib/conversions/createConversionEngine.js';
import type { Logger } from '../../lib/platform/logger.js';
import { createRecurringPass, type RecurringPass } from '../../lib/platform/createRecurringPass.js';
import type { VideoProjections } from './createVideoProjections.js';

/** How often waiting conversions are looked at for a free turn (their owner's job ended). */
const DISPATCH_INTERVAL_MS = 1_000;

/** Sends waiting conversions' jobs in their owners' turns. */
export interface Dispatcher extends Pick<RecurringPass, 'start' | 'stop'> {
  /** A pass over the owner's waiting conversions; settles when it is done. */
  dispatchFor: (owner: string) => Promise<void>;
  /** A pass for every owner with a conversion waiting (what the timer runs every second). */
  tick(): Promise<void>;
}

/**
 * Fair turns: sends an owner's waiting jobs, oldest first, while the owner has fewer than
 * `maxRunningPerUser` jobs out, so one user's backlog waits here, in the database, instead of
 * in the queue in front of everyone else's jobs. Replicas may race to send the same
 * conversion; a worker drops the duplicate when it takes it.
 */
export function createDispatcher(deps: {
  engine: ConversionEngine;
  videos: VideoProjections;
  /** See ConversionLimits.maxRunningPerUser. */
  maxRunningPerUser: number;
  log: Logger;
}): Dispatcher {
  const { engine, videos, log } = deps;

  /**
   * Sends a waiting conversion's job, unless its video was deleted meanwhile (video.deleted and
   * an upload event travel on separate queues; whichever is handled second sees the first).
   */
  const sendUnlessDeleted = async (record: ConversionRecord) => {
    if (await videos.isDeleted(record.videoId)) return engine.forgetVideo(record.videoId);
    await engine.dispatch(record);
  };
  const dispatchOwner = async (owner: string) => {
    const turns = deps.maxRunningPerUser - (await engine.countDispatched(owner));
    if (turns <= 0) return;
    for (const record of await engine.undispatched(owner, turns)) await sendUnlessDeleted(record);
  };

  // One pass per owner at a time in this process: a new conversion and the timer may meet.
  const passes = new Map<string, Promise<void>>();
  const dispatchFor = (owner: string): Promise<void> => {
    const pass = (passes.get(owner) ?? Promise.resolve()).then(() => dispatchOwner(owner));
    const settled = pass.catch(() => undefined);
    passes.set(owner, settled);
    void settled.then(() => {
      if (passes.get(owner) === settled) passes.delete(owner);
    });
    return pass;
  };

  /**
   * Each owner with a conversion waiting gets a pass (a job that ended freed a turn, or a send
   * failed earlier), each on its own, so one owner's failure stops no other.
   */
  const ticks = createRecurringPass(
    async () => {
      for (const owner of await engine.ownersWaiting()) {
        await dispatchFor(owner).catch((error: unknown) =>
          log.warn({ err: error, owner }, 'dispatch failed; trying again'),
        );
      }
    },
    { intervalMs: DISPATCH_INTERVAL_MS, log, failure: 'dispatch pass failed; trying again' },
  );

  return {
    dispatchFor,
    tick: ticks.run,
    start: ticks.start,
    async stop() {
      await ticks.stop();
      await Promise.all(passes.values());
    },
  };
}
