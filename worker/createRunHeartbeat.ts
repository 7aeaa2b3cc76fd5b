import type { ObjectId } from 'mongodb';
import type {
  ConversionEngine,
  ConversionRecord,
} from '../lib/conversions/createConversionEngine.js';
import type { Logger } from '../lib/platform/logger.js';
import { AbortReason } from './classifyFailure.js';

/**
 * How often a running job saves its progress, announces it, and checks it still owns its
 * conversion (cancel within 2 s).
 */
const WATCH_INTERVAL_MS = 500;

/** A run's heartbeat, from its start until `stop`. */
export interface RunHeartbeat {
  /** The run's progress so far (0–1), saved at the next beat. */
  report(fraction: number): void;
  stop(): void;
}

/**
 * Heartbeat, progress and cancel check in one: every 0.5 s the run's progress is saved by a
 * compare-and-set on its run, and a failed one means the run lost the job (cancelled, deleted,
 * taken over): `abort` is aborted with LOST, which kills ffmpeg. The engine announces progress
 * only after it is saved and only when it changed, so a subscriber whose router re-reads the
 * record on that event sees what the event announced. A beat that cannot be saved is tried
 * again at the next; the sweeper reclaims the job only after staleAfter.
 */
export function createRunHeartbeat(deps: {
  engine: ConversionEngine;
  record: ConversionRecord;
  runId: string;
  /** This run's own: another run of the same conversion here must not be stopped with it. */
  abort: AbortController;
  log: Logger;
  /** Told of each beat that could not be saved (the worker counts them). */
  onFailedBeat: () => void;
}): RunHeartbeat {
  const { engine, record, runId, abort, log } = deps;
  const id: ObjectId = record._id;
  let lastProgress = 0;
  let lastAnnounced = 0;
  let failedBeats = 0;
  const watch = setInterval(() => {
    const progress = lastProgress;
    engine
      .progress(record, runId, progress, lastAnnounced)
      .then((owned) => {
        failedBeats = 0;
        if (!owned) abort.abort(AbortReason.LOST);
        else lastAnnounced = progress;
      })
      .catch((error: unknown) => {
        failedBeats++;
        deps.onFailedBeat();
        if (failedBeats === 1 || failedBeats % 20 === 0)
          log.warn(
            { err: error, conversionId: id.toHexString(), failedBeats },
            'heartbeat not saved',
          );
      });
  }, WATCH_INTERVAL_MS);
  return {
    report(fraction) {
      lastProgress = fraction;
    },
    stop() {
      clearInterval(watch);
    },
  };
}
