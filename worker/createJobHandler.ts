import type { StorageQuota } from '../lib/stores/storageQuota.js';
import { randomUUID } from 'node:crypto';
import type { Channel, ConsumeMessage } from 'amqplib';
import { ObjectId, type Db } from 'mongodb';
import type { Broker } from '../lib/broker/createBroker.js';
import {
  conversionUpdated,
  type ConversionRecord,
  type Conversions,
} from '../lib/stores/conversions.js';
import { ConversionErrorCode } from '../lib/contracts/errorCodes.js';
import { removeMp3sOf } from '../lib/stores/audioFiles.js';
import { videoUploadState } from '../lib/stores/followUpload.js';
import type { Logger } from '../lib/platform/logger.js';
import {
  InvalidMessageError,
  parseConversionJob,
  parseJsonMessage,
  type ConversionJob,
} from '../lib/contracts/messages.js';
import type { WorkerConfig } from './config.js';
import { AbortReason, classifyFailure } from './classifyFailure.js';
import { convertVideo, type ConversionPath } from './convertVideo.js';

/**
 * How often a running job saves its progress, announces it, and checks it still owns its
 * conversion (cancel within 2 s).
 */
const WATCH_INTERVAL_MS = 500;

export interface JobHandlerDeps {
  config: WorkerConfig;
  conversions: Conversions;
  /** Media's database: videos are read from it, MP3s written to it. */
  mediaDb: Db;
  /** Each MP3 holds its room in its owner's storage while it is made. */
  quota: StorageQuota;
  broker: Broker;
  log: Logger;
  /** Told of each MP3 made, and the path that made it (the worker's metrics count them). */
  onConverted?: (path: ConversionPath) => void;
}

/** A conversion this worker is running. */
interface Run {
  conversionId: string;
  /** Stops it: SHUTDOWN hands the job back, LOST drops it (another run or a cancel owns it). */
  abort: AbortController;
  /**
   * Settles once the run has left its conversion in its next state; rejects where the job
   * must go back to the queue.
   */
  ended: Promise<void>;
}

/**
 * Runs one conversion job from delivery to ack. The job is acked only once the MP3 and the
 * SUCCEEDED record are durable, or once the conversion has failed for good; a crash before
 * that leaves it unacked, RabbitMQ redelivers it, and the rerun removes any partial output
 * (every MP3 chunk names its conversion) before it stores its own; the record's `audioId`
 * names the one MP3 that counts. A job handed back while this worker still runs it (its
 * channel was lost, the worker was not) joins that run instead of starting over.
 */
export function createJobHandler(deps: JobHandlerDeps) {
  const { config, conversions, mediaDb, quota, broker, log } = deps;
  const running = new Set<Run>();
  /** This worker's live run of a conversion (one that lost it may still be ending beside it). */
  const runOf = (conversionId: string) =>
    [...running].find((run) => run.conversionId === conversionId && !run.abort.signal.aborted);
  let heartbeatFailures = 0;

  const announce = (
    record: Pick<ConversionRecord, '_id' | 'videoId' | 'owner' | 'status' | 'progress'>,
  ) =>
    broker
      .publishEvent(conversionUpdated(record))
      // A lost progress event is harmless: subscribers get the next one, and the record is right.
      .catch((error: unknown) => log.warn({ err: error }, 'conversion.updated not published'));

  async function handle(delivery: ConsumeMessage, channel: Channel): Promise<void> {
    let job: ConversionJob;
    try {
      job = parseConversionJob(parseJsonMessage(delivery.content));
    } catch (error) {
      if (!(error instanceof InvalidMessageError)) throw error;
      log.warn({ err: error }, 'malformed job dead-lettered');
      channel.nack(delivery, false, false);
      return;
    }
    const current = runOf(job.conversionId);
    if (current && delivery.fields.redelivered) {
      // RabbitMQ hands back a job this worker is still running: the channel it came on was lost
      // (a broker restart or a network blip) and the broker requeued it. Taking it over would
      // throw the work away and spend an attempt; this delivery ends with the run instead.
      log.info({ conversionId: job.conversionId }, 'job redelivered while running here; joined');
      await current.ended;
      channel.ack(delivery);
      return;
    }
    const id = new ObjectId(job.conversionId);
    const runId = randomUUID();
    const record = await conversions.take(id, runId, delivery.fields.redelivered);
    if (!record) {
      // Cancelled, deleted, finished, or a duplicate of a job another worker holds. A run that
      // died mid-way may have left MP3 chunks, which no run will now replace.
      await removeOutputUnlessReclaimed(id, runId);
      channel.ack(delivery);
      return;
    }
    if (record.attempts > config.maxAttempts) {
      // Taken again and again without ever ending: something kills whoever runs it (a worker
      // crash, an out-of-memory kill). Stop the loop rather than take every worker down with it.
      await giveUp(
        job,
        id,
        runId,
        ConversionErrorCode.RETRIES_EXHAUSTED,
        `Its worker was lost ${record.attempts - 1} times`,
      );
      channel.ack(delivery);
      return;
    }
    const abort = new AbortController();
    const run: Run = {
      conversionId: job.conversionId,
      abort,
      ended: runJob(job, record, runId, abort),
    };
    running.add(run);
    try {
      await run.ended;
    } finally {
      running.delete(run);
    }
    // Once the run is over, not within it: an ack that fails because the channel was lost
    // meanwhile says nothing about the conversion (RabbitMQ requeued the job, and whoever
    // takes it finds it ended).
    channel.ack(delivery);
  }

  /** Converts a job this worker took and settles it; throws where the job must be requeued. */
  async function runJob(
    job: ConversionJob,
    record: ConversionRecord,
    runId: string,
    abort: AbortController,
  ): Promise<void> {
    const id = record._id;
    const log1 = log.child({ conversionId: job.conversionId, attempt: record.attempts });
    await announce(record);
    try {
      const audio = await convert(record, runId, abort);
      const done = await conversions.succeed(id, runId, audio.toHexString());
      // Cancelled (or deleted) while it was made, the MP3 must not outlive its conversion;
      // made, it is the one kept, and what killed runs left beside it goes.
      await removeOutputUnlessReclaimed(id, runId);
      // Its video deleted meanwhile: media removed the MP3s it found, but this one may have
      // been made whole after that (media marks the removal first, so this look sees it).
      // The conversion goes with video.deleted.
      const video = await videoUploadState(
        mediaDb,
        new ObjectId(record.videoId),
        2 * config.uploadTimeoutMs,
      );
      if (video.kind === 'gone') await removeMp3sOf(mediaDb, id);
      if (done) {
        await announce(done);
        log1.info('conversion succeeded');
      }
    } catch (error) {
      await settleFailure(error, job, id, runId, record, log1);
    }
  }

  /** Carries out what classifyFailure decides; throws where the delivery must be requeued. */
  async function settleFailure(
    error: unknown,
    job: ConversionJob,
    id: ObjectId,
    runId: string,
    record: ConversionRecord,
    log1: Logger,
  ): Promise<void> {
    await removeOutputUnlessReclaimed(id, runId);
    const decision = classifyFailure(error, record.attempts, config);
    switch (decision.kind) {
      case 'handBack': {
        const back = await conversions.requeue(id, runId, 'Its worker stopped', {
          giveAttemptBack: true,
        });
        if (back) await announce(back);
        throw error;
      }
      case 'drop':
        log1.info('conversion stopped: no longer ours (cancelled or deleted)');
        return;
      case 'redeliver':
        // A take then costs one attempt, so a database away for long still ends the loop.
        log1.warn({ err: error }, 'database unavailable mid-job; handing the job back');
        throw error;
      case 'fail': {
        const failed = await conversions.fail(id, runId, decision.code, decision.message);
        if (failed) await announce(failed);
        log1.info({ code: decision.code }, 'conversion failed: bad input');
        return;
      }
      case 'awaitUpload': {
        log1.info({ reason: decision.message }, 'conversion set aside until its upload ends');
        const parked = await conversions.awaitUpload(id, runId, decision.message);
        if (!parked) return;
        await announce(parked);
        // The upload may have ended between the worker's last look and the record's change,
        // its video.uploaded finding nothing set aside: then it is dispatched again now.
        const state = await videoUploadState(
          mediaDb,
          new ObjectId(record.videoId),
          2 * config.uploadTimeoutMs,
        );
        if (state.kind !== 'streaming') await conversions.uploadEnded(record.videoId);
        return;
      }
      case 'retry': {
        log1.warn({ err: error, delayMs: decision.delayMs }, 'conversion attempt failed');
        const back = await conversions.requeue(id, runId, decision.message);
        if (!back) return;
        await broker.sendToQueue(broker.topology.queues.jobsRetry, job, {
          expiration: String(decision.delayMs),
        });
        await announce(back);
        return;
      }
      case 'giveUp':
        log1.warn({ err: error }, 'conversion attempt failed; giving up');
        await giveUp(job, id, runId, decision.code, decision.message);
        return;
    }
  }

  /** FAILED for good, and the job parked in the dead-letter queue for a look. */
  async function giveUp(
    job: ConversionJob,
    id: ObjectId,
    runId: string,
    code: ConversionErrorCode,
    message: string,
  ) {
    await removeOutputUnlessReclaimed(id, runId);
    const failed = await conversions.fail(id, runId, code, message);
    await broker.sendToQueue(broker.topology.queues.jobsDead, job);
    if (failed) await announce(failed);
  }

  /**
   * Removes this conversion's MP3s, whole or in part, but the one a SUCCEEDED conversion names,
   * and unless another run now owns the conversion (it took the job over), whose MP3 in the
   * making is not told apart from a dead run's until that run ends.
   */
  async function removeOutputUnlessReclaimed(id: ObjectId, runId: string): Promise<void> {
    const now = await conversions.runOf(id);
    if (now?.status === 'RUNNING' && now.runId !== runId) return;
    const kept = now?.status === 'SUCCEEDED' && now.audioId ? new ObjectId(now.audioId) : undefined;
    await removeMp3sOf(mediaDb, id, kept);
  }

  /**
   * Converts what the conversion record names (video, owner, options), never what the job
   * message says: the message only points at the record, so whoever can publish to the broker
   * still cannot turn another user's video into an MP3 of their own. Around convertVideo: the
   * heartbeat that saves and announces progress and notices a lost run.
   */
  async function convert(
    record: ConversionRecord,
    runId: string,
    /** This run's own: another run of the same conversion here must not be stopped with it. */
    abort: AbortController,
  ): Promise<ObjectId> {
    const id = record._id;
    const conversionId = id.toHexString();
    let lastProgress = 0;
    let lastAnnounced = 0;
    let failedBeats = 0;
    // Heartbeat, progress and cancel check in one: a failed compare-and-set means the run lost
    // the job. The event goes out only after the progress is saved, so a subscriber whose router
    // re-reads the record on that event sees what the event announced.
    const watch = setInterval(() => {
      const progress = lastProgress;
      conversions
        .progress(id, runId, progress)
        .then((owned) => {
          failedBeats = 0;
          if (!owned) {
            abort.abort(AbortReason.LOST);
          } else if (progress !== lastAnnounced) {
            lastAnnounced = progress;
            void announce({ ...record, status: 'RUNNING', progress });
          }
        })
        .catch((error: unknown) => {
          // The next beat tries again; the sweeper reclaims the job only after staleAfter.
          failedBeats++;
          heartbeatFailures++;
          if (failedBeats === 1 || failedBeats % 20 === 0)
            log.warn({ err: error, conversionId, failedBeats }, 'heartbeat not saved');
        });
    }, WATCH_INTERVAL_MS);
    try {
      const stillOwned = async () => {
        const now = await conversions.runOf(id);
        return now?.status === 'RUNNING' && now.runId === runId;
      };
      const done = await convertVideo(
        { config, mediaDb, quota, log },
        record,
        { stillOwned, signal: abort.signal },
        (fraction) => {
          lastProgress = fraction;
        },
      );
      deps.onConverted?.(done.path);
      log.info(
        { conversionId, path: done.path, reason: done.reason, stages: done.stages },
        'conversion stages',
      );
      return done.audioId;
    } finally {
      clearInterval(watch);
    }
  }

  return {
    handle,
    /** Jobs in progress right now. */
    inFlight: () => running.size,
    /** SIGTERM after the drain period: kill ffmpeg and hand the jobs back. */
    abortAll: () => {
      for (const run of running) run.abort.abort(AbortReason.SHUTDOWN);
    },
    /** Heartbeats that could not be saved since start (the database was slow or away). */
    heartbeatFailures: () => heartbeatFailures,
  };
}
