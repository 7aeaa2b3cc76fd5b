import type { StorageQuota } from '../lib/stores/storageQuota.js';
import { randomUUID } from 'node:crypto';
import type { Channel, ConsumeMessage } from 'amqplib';
import { ObjectId, type Db } from 'mongodb';
import type {
  ConversionEngine,
  ConversionRecord,
} from '../lib/conversions/createConversionEngine.js';
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
import { createRunHeartbeat } from './createRunHeartbeat.js';

export interface JobHandlerDeps {
  config: WorkerConfig;
  /** Every change to a conversion, each announced. */
  engine: ConversionEngine;
  /** Media's database: videos are read from it, MP3s written to it. */
  mediaDb: Db;
  /** Each MP3 holds its room in its owner's storage while it is made. */
  quota: StorageQuota;
  log: Logger;
  /** Told of each MP3 made, and the path that made it (the worker's metrics count them). */
  onConverted?: (path: ConversionPath) => void;
}

/** What the worker process does with jobs. */
export interface JobHandler {
  /** Runs one delivery from the jobs queue to its ack (or nack); a consumer's handler. */
  handle: (delivery: ConsumeMessage, channel: Channel) => Promise<void>;
  /** Jobs in progress right now. */
  inFlight(): number;
  /** SIGTERM after the drain period: kill ffmpeg and hand the jobs back. */
  abortAll(): void;
  /** Heartbeats that could not be saved since start (the database was slow or away). */
  heartbeatFailures(): number;
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

/** One attempt at a job: the job, the record its take returned, and the run that owns it. */
interface Attempt {
  job: ConversionJob;
  record: ConversionRecord;
  runId: string;
  log: Logger;
}

/**
 * Runs one conversion job from delivery to ack. The job is acked only once the MP3 and the
 * SUCCEEDED record are durable, or once the conversion has failed for good; a crash before
 * that leaves it unacked, RabbitMQ redelivers it, and the rerun removes any partial output
 * (every MP3 chunk names its conversion) before it stores its own; the record's `audioId`
 * names the one MP3 that counts. A job handed back while this worker still runs it (its
 * channel was lost, the worker was not) joins that run instead of starting over.
 */
export function createJobHandler(deps: JobHandlerDeps): JobHandler {
  const { config, engine, log } = deps;
  const running = new Set<Run>();
  /** This worker's live run of a conversion (one that lost it may still be ending beside it). */
  const runOf = (conversionId: string) =>
    [...running].find((run) => run.conversionId === conversionId && !run.abort.signal.aborted);
  let heartbeatFailures = 0;
  const onFailedBeat = () => void heartbeatFailures++;

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
    const record = await engine.take(id, runId, delivery.fields.redelivered, config.maxAttempts);
    if (!record) {
      // Cancelled, deleted, finished, or a duplicate of a job another worker holds. A run that
      // died mid-way may have left MP3 chunks, which no run will now replace.
      await removeOutputUnlessReclaimed(deps, id, runId);
      channel.ack(delivery);
      return;
    }
    const attempt: Attempt = {
      job,
      record,
      runId,
      log: log.child({ conversionId: job.conversionId, attempt: record.attempts }),
    };
    if (record.attempts > config.maxAttempts) {
      // Taken again and again without ever ending: something kills whoever runs it (a worker
      // crash, an out-of-memory kill). Stop the loop rather than take every worker down with it.
      const lost = `Its worker was lost ${record.attempts - 1} times`;
      await giveUp(deps, attempt, ConversionErrorCode.RETRIES_EXHAUSTED, lost);
      channel.ack(delivery);
      return;
    }
    const abort = new AbortController();
    const run: Run = {
      conversionId: job.conversionId,
      abort,
      ended: runJob(deps, attempt, abort, onFailedBeat),
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

  return {
    handle,
    inFlight: () => running.size,
    abortAll: () => {
      for (const run of running) run.abort.abort(AbortReason.SHUTDOWN);
    },
    heartbeatFailures: () => heartbeatFailures,
  };
}

/** Converts a job this worker took and settles it; throws where the job must be requeued. */
async function runJob(
  deps: JobHandlerDeps,
  attempt: Attempt,
  abort: AbortController,
  onFailedBeat: () => void,
): Promise<void> {
  const { record, runId } = attempt;
  const id = record._id;
  try {
    const audio = await convert(deps, attempt, abort, onFailedBeat);
    const done = await deps.engine.succeed(id, runId, audio.toHexString(), async () => {
      // Cancelled (or deleted) while it was made, the MP3 must not outlive its conversion;
      // made, it is the one kept, and what killed runs left beside it goes.
      await removeOutputUnlessReclaimed(deps, id, runId);
      // Its video deleted meanwhile: media removed the MP3s it found, but this one may have
      // been made whole after that (media marks the removal first, so this look sees it).
      // The conversion goes with video.deleted.
      const video = await videoUploadState(
        deps.mediaDb,
        new ObjectId(record.videoId),
        2 * deps.config.uploadTimeoutMs,
      );
      if (video.kind === 'gone') await removeMp3sOf(deps.mediaDb, id);
    });
    if (done) attempt.log.info('conversion succeeded');
  } catch (error) {
    await settleFailure(deps, error, attempt);
  }
}

/** Carries out what classifyFailure decides; throws where the delivery must be requeued. */
async function settleFailure(deps: JobHandlerDeps, error: unknown, attempt: Attempt) {
  const { engine, config } = deps;
  const { record, runId, log } = attempt;
  const id = record._id;
  await removeOutputUnlessReclaimed(deps, id, runId);
  const decision = classifyFailure(error, record.attempts, config);
  switch (decision.kind) {
    case 'handBack':
      await engine.handBack(id, runId, 'Its worker stopped');
      throw error;
    case 'drop':
      log.info('conversion stopped: no longer ours (cancelled or deleted)');
      return;
    case 'redeliver':
      // A take then costs one attempt, so a database away for long still ends the loop.
      log.warn({ err: error }, 'database unavailable mid-job; handing the job back');
      throw error;
    case 'fail':
      await engine.fail(id, runId, decision.code, decision.message);
      log.info({ code: decision.code }, 'conversion failed: bad input');
      return;
    case 'awaitUpload': {
      log.info({ reason: decision.message }, 'conversion set aside until its upload ends');
      if (!(await engine.awaitUpload(id, runId, decision.message))) return;
      // The upload may have ended between the worker's last look and the record's change,
      // its video.uploaded finding nothing set aside: then it is dispatched again now.
      const state = await videoUploadState(
        deps.mediaDb,
        new ObjectId(record.videoId),
        2 * config.uploadTimeoutMs,
      );
      if (state.kind !== 'streaming') await engine.uploadEnded(record.videoId);
      return;
    }
    case 'retry':
      log.warn({ err: error, delayMs: decision.delayMs }, 'conversion attempt failed');
      await engine.retry(attempt.job, id, runId, decision.message, decision.delayMs);
      return;
    case 'giveUp':
      log.warn({ err: error }, 'conversion attempt failed; giving up');
      await giveUp(deps, attempt, decision.code, decision.message);
      return;
  }
}

/** FAILED for good, and the job parked in the dead-letter queue for a look. */
async function giveUp(
  deps: JobHandlerDeps,
  attempt: Attempt,
  code: ConversionErrorCode,
  message: string,
) {
  const { job, record, runId } = attempt;
  await removeOutputUnlessReclaimed(deps, record._id, runId);
  await deps.engine.giveUp(job, record._id, runId, code, message);
}

/**
 * Removes this conversion's MP3s, whole or in part, but the one a SUCCEEDED conversion names,
 * and unless another run now owns the conversion (it took the job over), whose MP3 in the
 * making is not told apart from a dead run's until that run ends.
 */
async function removeOutputUnlessReclaimed(
  deps: JobHandlerDeps,
  id: ObjectId,
  runId: string,
): Promise<void> {
  const now = await deps.engine.runOf(id);
  if (now?.status === 'RUNNING' && now.runId !== runId) return;
  const kept = now?.status === 'SUCCEEDED' && now.audioId ? new ObjectId(now.audioId) : undefined;
  await removeMp3sOf(deps.mediaDb, id, kept);
}

/**
 * Converts what the conversion record names (video, owner, options), never what the job
 * message says: the message only points at the record, so whoever can publish to the broker
 * still cannot turn another user's video into an MP3 of their own. Around convertVideo: the
 * run's heartbeat, which saves and announces progress and notices a lost run.
 */
async function convert(
  deps: JobHandlerDeps,
  attempt: Attempt,
  /** This run's own: another run of the same conversion here must not be stopped with it. */
  abort: AbortController,
  onFailedBeat: () => void,
): Promise<ObjectId> {
  const { config, engine, mediaDb, quota, log } = deps;
  const { record, runId } = attempt;
  const id = record._id;
  const heartbeat = createRunHeartbeat({ engine, record, runId, abort, log, onFailedBeat });
  try {
    const stillOwned = async () => {
      const now = await engine.runOf(id);
      return now?.status === 'RUNNING' && now.runId === runId;
    };
    const done = await convertVideo(
      { config, mediaDb, quota, log },
      record,
      {
        stillOwned,
        signal: abort.signal,
        describeSource: (audioStreams) => engine.describeSource(id, runId, audioStreams),
      },
      (fraction) => heartbeat.report(fraction),
    );
    deps.onConverted?.(done.path);
    log.info(
      { conversionId: id.toHexString(), path: done.path, reason: done.reason, stages: done.stages },
      'conversion stages',
    );
    return done.audioId;
  } finally {
    heartbeat.stop();
  }
}
