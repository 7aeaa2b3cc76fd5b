import type { Channel, ConsumeMessage } from 'amqplib';
import { ObjectId, type Db } from 'mongodb';
import type { Broker } from '../../lib/createBroker.js';
import {
  conversionUpdated,
  type ConversionRecord,
  type Conversions,
} from '../../lib/conversions.js';
import { ErrorCode, graphqlError } from '../../lib/errors.js';
import type { Logger } from '../../lib/logger.js';
import {
  InvalidMessageError,
  parseJsonMessage,
  parseVideoDeleted,
  parseVideoUploaded,
  type ConversionJob,
  type VideoUploaded,
} from '../../lib/messages.js';
import { parseMp3Options } from '../../lib/mp3Options.js';
import { isDuplicateKeyError } from '../../lib/mongo.js';

/** What conversion knows of a video, from `video.uploaded`: enough to convert it again. */
interface VideoProjection {
  _id: string;
  owner: string;
  filename: string;
  /**
   * Kept after video.deleted so a video.uploaded that arrives later (the two travel on
   * different queues) cannot bring its conversion back.
   */
  deleted?: true;
}

/**
 * The conversion lifecycle on the service side: turning uploads into queued jobs
 * (idempotently), converting again, cancelling, and forgetting deleted videos. Workers own
 * RUNNING → SUCCEEDED/FAILED.
 */
export async function createConversionService(deps: {
  db: Db;
  conversions: Conversions;
  broker: Broker;
  log: Logger;
  /** See ConversionConfig.staleAfterMs. */
  staleAfterMs: number;
}) {
  const { conversions, broker, log } = deps;
  const videos = deps.db.collection<VideoProjection>('videos');
  await videos.createIndex({ owner: 1 }, { name: 'by_owner' });

  const announce = (record: ConversionRecord) => broker.publishEvent(conversionUpdated(record));

  /** Queues the job once; a repeat (redelivered event, retried request) finds it sent. */
  const ensureJobSent = async (record: ConversionRecord): Promise<ConversionRecord> => {
    if (record.jobSentAt || record.status !== 'QUEUED') return record;
    const job: ConversionJob = {
      type: 'conversion.job',
      version: 1,
      conversionId: record._id.toHexString(),
      videoId: record.videoId,
      ownerId: record.owner,
      filename: record.filename,
      options: record.options,
    };
    // QUEUED is announced (and confirmed) before the job exists, so no subscriber can see a
    // worker's RUNNING before it.
    await announce(record);
    await broker.sendToQueue(broker.topology.queues.jobs, job);
    const jobSentAt = new Date();
    await conversions.collection.updateOne({ _id: record._id }, { $set: { jobSentAt } });
    return { ...record, jobSentAt };
  };

  const create = async (
    id: ObjectId,
    video: VideoProjection,
    options: ConversionRecord['options'],
  ) => {
    const record: ConversionRecord = {
      _id: id,
      videoId: video._id,
      owner: video.owner,
      filename: video.filename,
      status: 'QUEUED',
      progress: null,
      error: null,
      audioId: null,
      attempts: 0,
      options,
      queuedAt: new Date(),
      startedAt: null,
      finishedAt: null,
      jobSentAt: null,
      runId: null,
      heartbeatAt: null,
    };
    try {
      await conversions.collection.insertOne(record);
      return record;
    } catch (error) {
      if (!isDuplicateKeyError(error)) throw error;
      // Already created by an earlier delivery of the same event.
      return (await conversions.collection.findOne({ _id: id })) ?? record;
    }
  };

  /**
   * video.uploaded and video.deleted travel on separate queues and can be handled at the same
   * moment. Deletion sets the tombstone before it removes conversions; creation checks for the
   * tombstone after it creates one, and only then sends the job. Whichever runs second sees what
   * the first did, so no conversion outlives its video.
   */
  const isDeleted = async (videoId: string) =>
    (await videos.findOne({ _id: videoId, deleted: true }, { projection: { _id: 1 } })) !== null;

  /** Cancels (announcing it) and removes every conversion of a video. */
  const forgetConversions = async (videoId: string) => {
    for (const record of await conversions.collection.find({ videoId }).toArray()) {
      const cancelled = await conversions.cancel(record._id);
      if (cancelled) await announce(cancelled);
    }
    await conversions.collection.deleteMany({ videoId });
  };

  /** Sends the job of a conversion just created, unless its video was deleted meanwhile. */
  const sendUnlessDeleted = async (record: ConversionRecord) => {
    if (await isDeleted(record.videoId)) {
      await forgetConversions(record.videoId);
      return null;
    }
    return ensureJobSent(record);
  };

  const onVideoUploaded = async (event: VideoUploaded) => {
    const video = { _id: event.videoId, owner: event.ownerId, filename: event.filename };
    try {
      // Matches nothing once tombstoned, so the upsert's insert collides on _id: deleted.
      await videos.updateOne(
        { _id: video._id, deleted: { $ne: true } },
        { $set: video },
        { upsert: true },
      );
    } catch (error) {
      if (isDuplicateKeyError(error)) return;
      throw error;
    }
    // The upload's own conversion shares the video's id: a redelivered event cannot add one.
    await sendUnlessDeleted(await create(new ObjectId(event.videoId), video, event.mp3));
  };

  const onVideoDeleted = async (videoId: string) => {
    await videos.updateOne(
      { _id: videoId },
      { $set: { deleted: true }, $unset: { owner: '', filename: '' } },
      { upsert: true },
    );
    await forgetConversions(videoId);
  };

  /**
   * Stuck-state recovery, on a timer in every replica (each change is a compare-and-set, so
   * replicas do not double it): sends the job of a conversion whose sender failed after saving
   * it, and hands a conversion whose worker went silent (frozen, cut off, or gone without
   * RabbitMQ noticing) to another worker. A stale worker that wakes up finds its run taken and
   * stops.
   */
  const sweep = async () => {
    const cutoff = new Date(Date.now() - deps.staleAfterMs);
    for (const record of await conversions.unsent(cutoff)) {
      log.warn({ conversionId: record._id.toHexString() }, 'sweeper: sending a job never sent');
      await ensureJobSent(record);
    }
    for (;;) {
      const reclaimed = await conversions.reclaimSilent(cutoff);
      if (!reclaimed) break;
      log.warn(
        { conversionId: reclaimed._id.toHexString(), attempts: reclaimed.attempts },
        'sweeper: worker silent; sending the job again',
      );
      await ensureJobSent(reclaimed);
    }
  };
  let sweeping: Promise<void> | undefined;
  let sweepTimer: NodeJS.Timeout | undefined;
  const sweepOnce = () =>
    (sweeping ??= sweep()
      .catch((error: unknown) => log.warn({ err: error }, 'sweeper pass failed; trying later'))
      .finally(() => (sweeping = undefined)));

  /** Acks what it handled, dead-letters what it cannot parse; a throw means "try again". */
  const consumer =
    <T>(parse: (raw: unknown) => T, handle: (message: T) => Promise<void>) =>
    async (delivery: ConsumeMessage, channel: Channel) => {
      let message: T;
      try {
        message = parse(parseJsonMessage(delivery.content));
      } catch (error) {
        if (!(error instanceof InvalidMessageError)) throw error;
        log.warn(
          { err: error, queue: delivery.fields.routingKey },
          'malformed event dead-lettered',
        );
        channel.nack(delivery, false, false);
        return;
      }
      await handle(message);
      channel.ack(delivery);
    };

  return {
    start() {
      broker.consume(
        broker.topology.queues.videoUploaded,
        8,
        consumer(parseVideoUploaded, onVideoUploaded),
      );
      broker.consume(
        broker.topology.queues.videoDeleted,
        8,
        consumer(parseVideoDeleted, (event) => onVideoDeleted(event.videoId)),
      );
      sweepTimer = setInterval(() => void sweepOnce(), Math.min(15_000, deps.staleAfterMs / 4));
      sweepTimer.unref();
    },

    async stop() {
      clearInterval(sweepTimer);
      await sweeping;
    },

    async convertVideo(owner: string, videoId: string, mp3: unknown): Promise<ConversionRecord> {
      const options = parseMp3Options(mp3);
      const video = await videos.findOne({ _id: videoId, owner, deleted: { $ne: true } });
      if (!video) throw graphqlError(ErrorCode.NOT_FOUND, 'Video not found');
      const record = await create(new ObjectId(), video, options);
      try {
        const sent = await sendUnlessDeleted(record);
        if (!sent) throw graphqlError(ErrorCode.NOT_FOUND, 'Video not found');
        return sent;
      } catch (error) {
        // The caller is told to retry; a QUEUED record with no job behind it would wait forever.
        await conversions.collection.deleteOne({ _id: record._id, jobSentAt: null });
        throw error;
      }
    },

    async cancel(owner: string, id: string): Promise<ConversionRecord> {
      const record = await conversions.findOwned(id, owner);
      if (!record) throw graphqlError(ErrorCode.NOT_FOUND, 'Conversion not found');
      const cancelled = await conversions.cancel(record._id);
      if (!cancelled) return record; // already finished: nothing to stop
      await announce(cancelled);
      return cancelled;
    },
  };
}

export type ConversionService = Awaited<ReturnType<typeof createConversionService>>;
