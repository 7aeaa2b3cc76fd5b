import type { Db, ObjectId } from 'mongodb';
import type { Broker } from '../broker/createBroker.js';
import type { AudioStreamInfo } from '../contracts/audioReport.js';
import type { ConversionErrorCode } from '../contracts/errorCodes.js';
import { isFinalStatus, type FinalStatus } from '../contracts/conversionStatus.js';
import type {
  ConversionFinished,
  ConversionJob,
  ConversionUpdated,
} from '../contracts/messages.js';
import type { Logger } from '../platform/logger.js';
import {
  openConversions,
  type ConversionRecord,
  type Conversions,
  type NewConversion,
} from '../stores/conversions.js';

export type { ConversionRecord, NewConversion };

/** The store's reads, passed through unchanged: they change nothing, so they announce nothing. */
export type ConversionReads = Pick<
  Conversions,
  | 'findOwned'
  | 'runOf'
  | 'pageForVideo'
  | 'cursor'
  | 'undispatched'
  | 'ownersWaiting'
  | 'sentBefore'
  | 'countDispatched'
  | 'countActive'
  | 'countForVideo'
>;

/**
 * Every transition of the conversion lifecycle, each with its `conversion.updated` event: the
 * store's compare-and-set and the publish are made in one place, so no caller can change a
 * conversion's state without subscribers hearing of it. Nothing else builds or publishes
 * `conversion.updated` (tests/conversionEvents.test.ts fails if anything does).
 *
 * An event is published only when the compare-and-set matched (a transition that found the
 * conversion elsewhere changes nothing and announces nothing), and after the record is saved,
 * so a subscriber that re-reads the record on the event sees at least what it announced. Two
 * policies for a publish that fails:
 *
 * - **confirmed**: awaited, and a failure is thrown to the caller, which tries the whole step
 *   again (an event redelivered, the next dispatch tick, the client's retry). `dispatch` (QUEUED
 *   is confirmed before its job is sent, so no subscriber sees a worker's RUNNING first),
 *   `reclaimSilent`, `cancel`, `forgetVideo`.
 * - **logged**: awaited, a failure logged and otherwise ignored: the record is right, and
 *   subscribers get the next event (the router re-reads the record on each). The worker's
 *   transitions (`take`, `progress`, `succeed`, `fail`, `retry`, `giveUp`, `handBack`,
 *   `awaitUpload`) and `withdraw`, whose caller is already reporting a failure. `take` and
 *   `progress` do not wait for the publish, only for the save (it is still sent before any
 *   later event of the run).
 *
 * A final state (SUCCEEDED, FAILED, CANCELLED by its owner) is announced once more, as
 * `conversion.finished`, for the notification service's durable queue: the record keeps
 * `finishAnnounced: false` until that publish is confirmed, and `announceFinished` (the
 * sweeper's) sends whatever a failed publish left. A conversion cancelled because its video
 * went (`forgetVideo`, `withdraw`) is not announced: its owner asked for nothing to come.
 *
 * `create` announces nothing: a conversion's QUEUED goes out when `dispatch` sends its job, in
 * its owner's turn. `uploadEnded` and `resend` change no state. docs/architecture.md tabulates
 * the transitions.
 */
export interface ConversionEngine extends ConversionReads {
  /** A new QUEUED conversion (or the one made before under its id); announced by `dispatch`. */
  create(fields: NewConversion): Promise<ConversionRecord>;
  /**
   * A QUEUED conversion with no job out: QUEUED announced (confirmed), its job sent, and when
   * recorded. Any other is returned as it is.
   */
  dispatch(record: ConversionRecord): Promise<ConversionRecord>;
  /** Its job sent again (it may have been lost) and when recorded; no state change. */
  resend(record: ConversionRecord): Promise<ConversionRecord>;
  /**
   * One RUNNING conversion whose worker went silent before `cutoff`, back to QUEUED and
   * dispatched at once; null when there is none.
   */
  reclaimSilent(cutoff: Date): Promise<ConversionRecord | null>;
  /** QUEUED or RUNNING → CANCELLED; null when it had ended (or is gone). */
  cancel(id: ObjectId): Promise<ConversionRecord | null>;
  /** A conversion whose request failed: removed if its job was never sent, else cancelled. */
  withdraw(id: ObjectId): Promise<void>;
  /** Every conversion of a deleted video cancelled (each announced), then removed. */
  forgetVideo(videoId: string): Promise<void>;
  /** Its conversions set aside for the upload may be dispatched again; returns their owners. */
  uploadEnded(videoId: string): Promise<string[]>;
  /**
   * `conversion.finished` for conversions that ended before `cutoff` without it going out (the
   * broker was away): the outbox's second chance. Returns how many were sent; a failed publish
   * rejects, and the next pass tries again.
   */
  announceFinished(cutoff: Date): Promise<number>;
  /**
   * A worker claims it (QUEUED → RUNNING, or takes a RUNNING one over); null when it is not this
   * run's. RUNNING is announced unless the take is past `maxAttempts`: the caller fails it then.
   */
  take(
    id: ObjectId,
    runId: string,
    takeOver: boolean,
    maxAttempts: number,
  ): Promise<ConversionRecord | null>;
  /**
   * The video's audio streams, as the run's worker probed them, saved for `Video.audioStreams`
   * (not announced: no state changes); false when the run no longer owns it.
   */
  describeSource(id: ObjectId, runId: string, audioStreams: AudioStreamInfo[]): Promise<boolean>;
  /**
   * Progress and heartbeat saved; false when the run no longer owns it. Announced once saved,
   * when it differs from `lastAnnounced`.
   */
  progress(
    record: ConversionRecord,
    runId: string,
    progress: number,
    lastAnnounced: number,
  ): Promise<boolean>;
  /**
   * RUNNING → SUCCEEDED with its MP3. `beforeAnnounce` runs after the save and before the
   * event, whether or not the run still owned it (the MP3's fate is settled there).
   */
  succeed(
    id: ObjectId,
    runId: string,
    audioId: string,
    beforeAnnounce: () => Promise<void>,
  ): Promise<ConversionRecord | null>;
  /** RUNNING → FAILED, never retried. */
  fail: Conversions['fail'];
  /** RUNNING → QUEUED (RETRYING), `job` sent to the retry queue to come back after `delayMs`. */
  retry(
    job: ConversionJob,
    id: ObjectId,
    runId: string,
    message: string,
    delayMs: number,
  ): Promise<ConversionRecord | null>;
  /** RUNNING → FAILED for good, and `job` parked in the dead-letter queue. */
  giveUp(
    job: ConversionJob,
    id: ObjectId,
    runId: string,
    code: ConversionErrorCode,
    message: string,
  ): Promise<ConversionRecord | null>;
  /** RUNNING → QUEUED, its attempt given back: the worker is stopping and requeues the job. */
  handBack(id: ObjectId, runId: string, message: string): Promise<ConversionRecord | null>;
  /** RUNNING → QUEUED, its attempt given back, set aside until its upload ends. */
  awaitUpload(id: ObjectId, runId: string, message: string): Promise<ConversionRecord | null>;
}

export interface ConversionEngineDeps {
  conversions: Conversions;
  broker: Broker;
  /** Where publishes that fail under the "logged" policy are told. */
  log: Logger;
}

/** The event that tells subscribers about this state of a conversion. */
function conversionUpdated(
  record: Pick<ConversionRecord, '_id' | 'videoId' | 'owner' | 'status' | 'progress'>,
): ConversionUpdated {
  return {
    type: 'conversion.updated',
    version: 1,
    conversionId: record._id.toHexString(),
    videoId: record.videoId,
    ownerId: record.owner,
    status: record.status,
    progress: record.progress,
  };
}

/** The event that tells the notification service a conversion ended. */
function conversionFinished(record: ConversionRecord): ConversionFinished | null {
  if (!isFinalStatus(record.status)) return null;
  return {
    type: 'conversion.finished',
    version: 1,
    conversionId: record._id.toHexString(),
    videoId: record.videoId,
    ownerId: record.owner,
    status: record.status as FinalStatus,
    filename: record.filename,
    errorCode: record.status === 'FAILED' ? (record.error?.code ?? null) : null,
    audioId: record.status === 'SUCCEEDED' ? record.audioId : null,
    finishedAt: (record.finishedAt ?? new Date()).toISOString(),
  };
}

/** The job that asks a worker to run `record`; workers read the rest from the record. */
function jobFor(record: ConversionRecord): ConversionJob {
  return {
    type: 'conversion.job',
    version: 1,
    conversionId: record._id.toHexString(),
    videoId: record.videoId,
    ownerId: record.owner,
    filename: record.filename,
    options: record.options,
  };
}

export function createConversionEngine(deps: ConversionEngineDeps): ConversionEngine {
  const { conversions, broker, log } = deps;
  const { queues } = broker.topology;

  const confirmed = (record: ConversionRecord) => broker.publishEvent(conversionUpdated(record));
  const logged = (
    record: Pick<ConversionRecord, '_id' | 'videoId' | 'owner' | 'status' | 'progress'>,
  ) =>
    broker
      .publishEvent(conversionUpdated(record))
      .catch((error: unknown) => log.warn({ err: error }, 'conversion.updated not published'));
  /** Sends `conversion.finished` and records that it went; what fails waits for the sweeper. */
  const publishFinished = async (record: ConversionRecord) => {
    const event = conversionFinished(record);
    if (!event) return;
    await broker.publishEvent(event);
    await conversions.markFinishAnnounced(record._id);
  };
  /** `conversion.finished`, whose failure is only logged: the sweeper sends it later. */
  const finished = (record: ConversionRecord) =>
    publishFinished(record).catch((error: unknown) =>
      log.warn({ err: error }, 'conversion.finished not published; the sweeper sends it later'),
    );
  /** A worker's final transition: `conversion.updated` (logged), then `conversion.finished`. */
  const loggedFinal = async (record: ConversionRecord) => {
    await logged(record);
    await finished(record);
  };
  /** Announces what a transition returned, when it changed anything. */
  const announced = async (
    changed: Promise<ConversionRecord | null>,
    publish: (record: ConversionRecord) => Promise<void>,
  ) => {
    const record = await changed;
    if (record) await publish(record);
    return record;
  };

  const resend = async (record: ConversionRecord) => {
    await broker.sendToQueue(queues.jobs, jobFor(record));
    const jobSentAt = new Date();
    await conversions.markSent(record._id, jobSentAt);
    return { ...record, jobSentAt };
  };
  const dispatch = async (record: ConversionRecord) => {
    if (record.jobSentAt || record.status !== 'QUEUED') return record;
    await confirmed(record);
    return resend(record);
  };
  /** Cancelled for a reason of its owner's own (a deleted video, a failed upload): no notice. */
  const cancelQuietly = async (id: ObjectId) => {
    const record = await announced(conversions.cancel(id), confirmed);
    if (record) await conversions.markFinishAnnounced(record._id);
    return record;
  };

  return {
    findOwned: (id, owner) => conversions.findOwned(id, owner),
    runOf: (id) => conversions.runOf(id),
    pageForVideo: (videoId, owner, first, after) =>
      conversions.pageForVideo(videoId, owner, first, after),
    cursor: (record) => conversions.cursor(record),
    undispatched: (owner, limit) => conversions.undispatched(owner, limit),
    ownersWaiting: () => conversions.ownersWaiting(),
    sentBefore: (cutoff) => conversions.sentBefore(cutoff),
    countDispatched: (owner) => conversions.countDispatched(owner),
    countActive: (owner) => conversions.countActive(owner),
    countForVideo: (videoId) => conversions.countForVideo(videoId),

    create: (fields) => conversions.create(fields),
    dispatch,
    resend,
    async reclaimSilent(cutoff) {
      const reclaimed = await conversions.reclaimSilent(cutoff);
      return reclaimed && dispatch(reclaimed);
    },
    async cancel(id) {
      const record = await announced(conversions.cancel(id), confirmed);
      if (record) await finished(record);
      return record;
    },
    async withdraw(id) {
      const record = await announced(conversions.withdraw(id), logged);
      if (record) await conversions.markFinishAnnounced(record._id);
    },
    async forgetVideo(videoId) {
      for (const record of await conversions.forVideo(videoId)) await cancelQuietly(record._id);
      await conversions.removeForVideo(videoId);
    },
    uploadEnded: (videoId) => conversions.uploadEnded(videoId),
    async announceFinished(cutoff) {
      const left = await conversions.finishedUnannounced(cutoff, 100);
      for (const record of left) await publishFinished(record);
      return left.length;
    },

    async take(id, runId, takeOver, maxAttempts) {
      const record = await conversions.take(id, runId, takeOver);
      // Not awaited: the run must be registered by its worker as soon as it owns the record, so
      // the job redelivered meanwhile (its channel lost) joins the run instead of taking it over.
      if (record && record.attempts <= maxAttempts) void logged(record);
      return record;
    },
    describeSource: (id, runId, audioStreams) =>
      conversions.describeSource(id, runId, audioStreams),
    async progress(record, runId, progress, lastAnnounced) {
      const owned = await conversions.progress(record._id, runId, progress);
      if (owned && progress !== lastAnnounced) {
        void logged({ ...record, status: 'RUNNING', progress });
      }
      return owned;
    },
    async succeed(id, runId, audioId, beforeAnnounce) {
      const done = await conversions.succeed(id, runId, audioId);
      await beforeAnnounce();
      if (done) await loggedFinal(done);
      return done;
    },
    fail: (id, runId, code, message) =>
      announced(conversions.fail(id, runId, code, message), loggedFinal),
    async retry(job, id, runId, message, delayMs) {
      const back = await conversions.requeue(id, runId, message);
      if (!back) return null;
      await broker.sendToQueue(queues.jobsRetry, job, { expiration: String(delayMs) });
      await logged(back);
      return back;
    },
    async giveUp(job, id, runId, code, message) {
      const failed = await conversions.fail(id, runId, code, message);
      await broker.sendToQueue(queues.jobsDead, job);
      if (failed) await loggedFinal(failed);
      return failed;
    },
    handBack: (id, runId, message) =>
      announced(conversions.requeue(id, runId, message, { giveAttemptBack: true }), logged),
    awaitUpload: (id, runId, message) =>
      announced(conversions.awaitUpload(id, runId, message), logged),
  };
}

/** The engine over the `conversions` collection of `db` (its indexes made first). */
export async function openConversionEngine(
  db: Db,
  deps: Omit<ConversionEngineDeps, 'conversions'>,
): Promise<ConversionEngine> {
  return createConversionEngine({ ...deps, conversions: await openConversions(db) });
}
