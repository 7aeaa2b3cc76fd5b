import { ObjectId, type Collection, type Db } from 'mongodb';
import type { ConversionStatus } from '../contracts/conversionStatus.js';
import { ConversionErrorCode } from '../contracts/errorCodes.js';
import { ErrorCode, graphqlError } from '../contracts/errors.js';
import { isDuplicateKeyError } from '../platform/mongo.js';
import type { AudioStreamInfo } from '../contracts/audioReport.js';
import type { Mp3Options } from '../contracts/mp3Options.js';

export interface ConversionRecord {
  _id: ObjectId;
  videoId: string;
  owner: string;
  filename: string;
  status: ConversionStatus;
  progress: number | null;
  error: { code: ConversionErrorCode; message: string } | null;
  /** The MP3 in media's `audio` bucket, once SUCCEEDED. */
  audioId: string | null;
  /** How many times a worker has taken it. */
  attempts: number;
  /** The options as asked, validated. */
  options: Mp3Options;
  /**
   * The video's audio streams, as its worker probed them (`Video.audioStreams`); absent until
   * a worker has probed it.
   */
  audioStreams?: AudioStreamInfo[];
  queuedAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  /** Set once its job is confirmed in the queue, so a redelivered event does not resend it. */
  jobSentAt: Date | null;
  /** The run that owns it while RUNNING; a stale run cannot finish it. */
  runId: string | null;
  /** Last sign of life from its worker while RUNNING. */
  heartbeatAt: Date | null;
  /**
   * QUEUED and set aside until its upload ends (`video.uploaded`): a worker found the upload
   * stalled or slower than the job's time limit, and gave its place back rather than wait.
   * Absent on records made before it existed, which is the same as false.
   */
  awaitingUpload?: boolean;
  /**
   * False from the moment it reaches a final state until its `conversion.finished` is
   * confirmed published; the sweeper publishes those still false. Absent on records that
   * ended before it existed, which are never announced again.
   */
  finishAnnounced?: boolean;
}

/** What a new conversion is made from; the rest of its record starts empty. */
export interface NewConversion {
  id: ObjectId;
  videoId: string;
  owner: string;
  filename: string;
  options: Mp3Options;
}

/** The record a new conversion starts as: QUEUED now, nothing else happened yet. */
export function newConversionRecord(fields: NewConversion): ConversionRecord {
  return {
    _id: fields.id,
    videoId: fields.videoId,
    owner: fields.owner,
    filename: fields.filename,
    status: 'QUEUED',
    progress: null,
    error: null,
    audioId: null,
    attempts: 0,
    options: fields.options,
    queuedAt: new Date(),
    startedAt: null,
    finishedAt: null,
    jobSentAt: null,
    runId: null,
    heartbeatAt: null,
  };
}

/** What a run taking a conversion sets (its attempts count one more besides). */
export function takenByRun(
  runId: string,
): Pick<ConversionRecord, 'status' | 'runId' | 'startedAt' | 'heartbeatAt' | 'progress' | 'error'> {
  return {
    status: 'RUNNING',
    runId,
    startedAt: new Date(),
    heartbeatAt: new Date(),
    progress: 0,
    error: null,
  };
}

/**
 * The conversion records: every read and every state change of a conversion. Each change is a
 * compare-and-set on the current state (and run), so two workers, a cancel and a redelivery
 * can race without a conversion ending twice. The changes announce nothing: only the
 * conversion engine (lib/conversions) uses them, each with its conversion.updated event
 * (ESLint keeps it so). The collection itself stays inside; docs/architecture.md draws the
 * states.
 */
export interface Conversions {
  /** A new QUEUED conversion, or the one made before under the same id (a redelivery). */
  create(fields: NewConversion): Promise<ConversionRecord>;
  findOwned(id: string, owner: string): Promise<ConversionRecord | null>;
  /** Its state and the run that owns it (while RUNNING), or null once it is removed. */
  runOf(id: ObjectId): Promise<Pick<ConversionRecord, 'status' | 'runId' | 'audioId'> | null>;
  /** Newest first; `after` is a `cursor` from the previous page, else BAD_USER_INPUT. */
  pageForVideo(
    videoId: string,
    owner: string,
    first: number,
    after?: string,
  ): Promise<{ records: ConversionRecord[]; hasNextPage: boolean }>;
  /** Where a page that ends at `record` continues from (opaque to clients). */
  cursor(record: ConversionRecord): string;
  forVideo(videoId: string): Promise<ConversionRecord[]>;
  removeForVideo(videoId: string): Promise<void>;
  take(id: ObjectId, runId: string, takeOver: boolean): Promise<ConversionRecord | null>;
  progress(id: ObjectId, runId: string, progress: number): Promise<boolean>;
  describeSource(id: ObjectId, runId: string, audioStreams: AudioStreamInfo[]): Promise<boolean>;
  succeed(id: ObjectId, runId: string, audioId: string): Promise<ConversionRecord | null>;
  fail(
    id: ObjectId,
    runId: string,
    code: ConversionErrorCode,
    message: string,
  ): Promise<ConversionRecord | null>;
  requeue(
    id: ObjectId,
    runId: string,
    message: string,
    options?: { giveAttemptBack?: boolean },
  ): Promise<ConversionRecord | null>;
  awaitUpload(id: ObjectId, runId: string, message: string): Promise<ConversionRecord | null>;
  uploadEnded(videoId: string): Promise<string[]>;
  reclaimSilent(cutoff: Date): Promise<ConversionRecord | null>;
  undispatched(owner: string, limit: number): Promise<ConversionRecord[]>;
  ownersWaiting(): Promise<string[]>;
  sentBefore(cutoff: Date): Promise<ConversionRecord[]>;
  countDispatched(owner: string): Promise<number>;
  countActive(owner: string): Promise<number>;
  countForVideo(videoId: string): Promise<number>;
  /** Removed if its job was never sent, else cancelled: the cancelled record, or null. */
  withdraw(id: ObjectId): Promise<ConversionRecord | null>;
  markSent(id: ObjectId, jobSentAt: Date): Promise<void>;
  cancel(id: ObjectId): Promise<ConversionRecord | null>;
  /** Ended before `cutoff` with their `conversion.finished` not yet confirmed, oldest first. */
  finishedUnannounced(cutoff: Date, limit: number): Promise<ConversionRecord[]>;
  markFinishAnnounced(id: ObjectId): Promise<void>;
}

export async function openConversions(db: Db): Promise<Conversions> {
  const conversions: Collection<ConversionRecord> = db.collection<ConversionRecord>('conversions');
  await conversions.createIndex(
    { videoId: 1, owner: 1, queuedAt: -1, _id: -1 },
    { name: 'by_video_newest_first' },
  );
  await conversions.createIndex({ status: 1, heartbeatAt: 1 }, { name: 'by_status_heartbeat' });
  await conversions.createIndex({ owner: 1, status: 1 }, { name: 'by_owner_status' });
  await conversions.createIndex(
    { finishAnnounced: 1, finishedAt: 1 },
    { name: 'by_finish_announced' },
  );
  const idOf = (id: string) => (/^[0-9a-f]{24}$/i.test(id) ? new ObjectId(id) : null);
  // A cursor this store did not make is the client's mistake, not a reason to start over.
  const parseCursor = (cursor: string) => {
    const match = /^([0-9a-z]{1,12})\.([0-9a-f]{24})$/.exec(cursor);
    if (!match?.[1] || !match[2]) {
      throw graphqlError(ErrorCode.BAD_USER_INPUT, 'after is not a cursor of this list', {
        field: 'after',
      });
    }
    return { queuedAt: new Date(parseInt(match[1], 36)), id: new ObjectId(match[2]) };
  };

  /** This run's RUNNING conversion back to QUEUED, with RETRYING and why: requeue, awaitUpload. */
  const backToQueued = (
    id: ObjectId,
    runId: string,
    message: string,
    fields: Pick<Partial<ConversionRecord>, 'jobSentAt' | 'awaitingUpload'>,
    giveAttemptBack: boolean,
  ) =>
    conversions.findOneAndUpdate(
      { _id: id, runId, status: 'RUNNING' },
      {
        $set: {
          status: 'QUEUED',
          progress: null,
          runId: null,
          error: { code: ConversionErrorCode.RETRYING, message },
          ...fields,
        },
        ...(giveAttemptBack ? { $inc: { attempts: -1 } } : {}),
      },
      { returnDocument: 'after' },
    );

  const api: Conversions = {
    async create(fields) {
      const record = newConversionRecord(fields);
      try {
        await conversions.insertOne(record);
        return record;
      } catch (error) {
        if (!isDuplicateKeyError(error)) throw error;
        return (await conversions.findOne({ _id: fields.id })) ?? record;
      }
    },
    runOf: (id) =>
      conversions.findOne({ _id: id }, { projection: { _id: 0, status: 1, runId: 1, audioId: 1 } }),
    forVideo: (videoId) => conversions.find({ videoId }).toArray(),
    async removeForVideo(videoId) {
      await conversions.deleteMany({ videoId });
    },
    async findOwned(id: string, owner: string) {
      const _id = idOf(id);
      return _id ? conversions.findOne({ _id, owner }) : null;
    },
    /**
     * One page of a video's conversions, newest first by when each was queued (not by id: the
     * upload's own conversion has the video's id, made by media, and ids from two processes in
     * the same second do not sort by time), the id breaking ties.
     */
    async pageForVideo(videoId: string, owner: string, first: number, after?: string) {
      const from = after === undefined ? null : parseCursor(after);
      const found = await conversions
        .find({
          videoId,
          owner,
          ...(from
            ? {
                $or: [
                  { queuedAt: { $lt: from.queuedAt } },
                  { queuedAt: from.queuedAt, _id: { $lt: from.id } },
                ],
              }
            : {}),
        })
        .sort({ queuedAt: -1, _id: -1 })
        .limit(first + 1)
        .toArray();
      return { records: found.slice(0, first), hasNextPage: found.length > first };
    },
    cursor: (record) => `${record.queuedAt.getTime().toString(36)}.${record._id.toHexString()}`,

    /**
     * A worker claims it: QUEUED → RUNNING, or takes over a RUNNING one whose job came back
     * (the previous worker died). Returns null when it is not this worker's to run.
     */
    take: (id: ObjectId, runId: string, takeOver: boolean) =>
      conversions.findOneAndUpdate(
        { _id: id, status: takeOver ? { $in: ['QUEUED', 'RUNNING'] } : 'QUEUED' },
        { $set: takenByRun(runId), $inc: { attempts: 1 } },
        { returnDocument: 'after' },
      ),
    /** The audio streams its worker found; false when the run no longer owns it. */
    async describeSource(
      id: ObjectId,
      runId: string,
      audioStreams: AudioStreamInfo[],
    ): Promise<boolean> {
      const result = await conversions.updateOne(
        { _id: id, runId, status: 'RUNNING' },
        { $set: { audioStreams } },
      );
      return result.matchedCount === 1;
    },
    /** Progress and heartbeat; false when the run no longer owns it (cancelled, deleted, taken over). */
    async progress(id: ObjectId, runId: string, progress: number): Promise<boolean> {
      const result = await conversions.updateOne(
        { _id: id, runId, status: 'RUNNING' },
        { $set: { progress, heartbeatAt: new Date() } },
      );
      return result.matchedCount === 1;
    },
    succeed: (id: ObjectId, runId: string, audioId: string) =>
      conversions.findOneAndUpdate(
        { _id: id, runId, status: 'RUNNING' },
        {
          $set: {
            status: 'SUCCEEDED',
            progress: 1,
            audioId,
            finishedAt: new Date(),
            runId: null,
            finishAnnounced: false,
          },
        },
        { returnDocument: 'after' },
      ),
    fail: (id: ObjectId, runId: string, code: ConversionErrorCode, message: string) =>
      conversions.findOneAndUpdate(
        { _id: id, runId, status: 'RUNNING' },
        {
          $set: {
            status: 'FAILED',
            error: { code, message },
            finishedAt: new Date(),
            runId: null,
            finishAnnounced: false,
          },
        },
        { returnDocument: 'after' },
      ),
    /**
     * Back to QUEUED: for a retry after a transient fault, or because its worker is stopping
     * (SIGTERM) rather than failing. The latter gives back the attempt its take counted
     * (`giveAttemptBack`), so rolling restarts cannot use up a conversion's attempts; a worker
     * that dies without stopping (kill -9, out of memory) still spends one.
     */
    requeue: (
      id: ObjectId,
      runId: string,
      message: string,
      options: { giveAttemptBack?: boolean } = {},
    ) =>
      // Its job goes back out now (retry queue or requeue), not when first sent.
      backToQueued(id, runId, message, { jobSentAt: new Date() }, options.giveAttemptBack === true),
    /**
     * Back to QUEUED, its attempt given back and no job out, set aside until its upload ends: the
     * worker gives its place to jobs it can convert now instead of waiting on a stalled or slow
     * upload. Not dispatched again until `uploadEnded`.
     */
    awaitUpload: (id: ObjectId, runId: string, message: string) =>
      backToQueued(id, runId, message, { jobSentAt: null, awaitingUpload: true }, true),
    /**
     * The video's upload ended (stored, or gone): its conversions set aside for it may be
     * dispatched again. Returns their owners, whose turns the caller dispatches.
     */
    async uploadEnded(videoId: string): Promise<string[]> {
      const waiting = { videoId, status: 'QUEUED' as const, awaitingUpload: true };
      const owners = await conversions.distinct('owner', waiting);
      await conversions.updateMany(waiting, { $set: { awaitingUpload: false } });
      return owners;
    },
    /**
     * Takes back one RUNNING conversion whose worker went silent before `cutoff`, as QUEUED with
     * no job sent, so the caller sends it again. Null when there is none (or another sweeper
     * took it first: the heartbeat it saw is part of the condition).
     */
    reclaimSilent: async (cutoff: Date) => {
      const silent = await conversions.findOne({
        status: 'RUNNING',
        heartbeatAt: { $lt: cutoff },
      });
      if (!silent) return null;
      return conversions.findOneAndUpdate(
        {
          _id: silent._id,
          status: 'RUNNING',
          runId: silent.runId,
          heartbeatAt: silent.heartbeatAt,
        },
        {
          $set: {
            status: 'QUEUED',
            progress: null,
            runId: null,
            jobSentAt: null,
            error: {
              code: ConversionErrorCode.RETRYING,
              message: 'Its worker stopped responding',
            },
          },
        },
        { returnDocument: 'after' },
      );
    },
    /**
     * QUEUED with no job sent, oldest first: waiting for their owner's turn (or their sender
     * failed between saving and sending); not those set aside until their upload ends.
     */
    undispatched: (owner: string, limit: number) =>
      conversions
        .find({ owner, status: 'QUEUED', jobSentAt: null, awaitingUpload: { $ne: true } })
        .sort({ queuedAt: 1, _id: 1 })
        .limit(limit)
        .toArray(),
    /** Owners with a conversion waiting for its job to be sent. */
    ownersWaiting: () =>
      conversions.distinct('owner', {
        status: 'QUEUED',
        jobSentAt: null,
        awaitingUpload: { $ne: true },
      }),
    /** QUEUED with a job sent before `cutoff`: long enough ago that it may have been lost. */
    sentBefore: (cutoff: Date) =>
      conversions
        .find({ status: 'QUEUED', jobSentAt: { $lt: cutoff } })
        .limit(100)
        .toArray(),
    /** The owner's conversions whose job is out, until they end: what runs or soon will. */
    countDispatched: (owner: string) =>
      conversions.countDocuments({
        owner,
        status: { $in: ['QUEUED', 'RUNNING'] },
        jobSentAt: { $ne: null },
      }),
    /** The owner's conversions that have not ended, dispatched or waiting. */
    countActive: (owner: string) =>
      conversions.countDocuments({ owner, status: { $in: ['QUEUED', 'RUNNING'] } }),
    countForVideo: (videoId: string) => conversions.countDocuments({ videoId }),
    /**
     * Takes back a conversion whose request failed: removed if its job was never sent, else
     * cancelled, so the worker that takes the job drops it.
     */
    async withdraw(id: ObjectId): Promise<ConversionRecord | null> {
      const removed = await conversions.deleteOne({ _id: id, jobSentAt: null });
      return removed.deletedCount === 0 ? api.cancel(id) : null;
    },
    async markSent(id: ObjectId, jobSentAt: Date) {
      await conversions.updateOne({ _id: id }, { $set: { jobSentAt } });
    },
    cancel: (id: ObjectId): Promise<ConversionRecord | null> =>
      conversions.findOneAndUpdate(
        { _id: id, status: { $in: ['QUEUED', 'RUNNING'] } },
        {
          $set: {
            status: 'CANCELLED',
            finishedAt: new Date(),
            runId: null,
            finishAnnounced: false,
          },
        },
        { returnDocument: 'after' },
      ),
    finishedUnannounced: (cutoff: Date, limit: number) =>
      conversions
        .find({ finishAnnounced: false, finishedAt: { $lt: cutoff } })
        .sort({ finishedAt: 1 })
        .limit(limit)
        .toArray(),
    async markFinishAnnounced(id: ObjectId) {
      await conversions.updateOne({ _id: id }, { $set: { finishAnnounced: true } });
    },
  };
  return api;
}
