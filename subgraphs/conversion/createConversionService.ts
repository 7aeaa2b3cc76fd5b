import type { Channel, ConsumeMessage } from 'amqplib';
import { Counter, type Registry } from 'prom-client';
import { ObjectId, type Db } from 'mongodb';
import type { Broker } from '../../lib/broker/createBroker.js';
import { createRateWindows, spendOrRefuse } from '../../lib/stores/createRateWindows.js';
import {
  conversionUpdated,
  type ConversionRecord,
  type Conversions,
} from '../../lib/stores/conversions.js';
import { ErrorCode, graphqlError } from '../../lib/contracts/errors.js';
import type { Logger } from '../../lib/platform/logger.js';
import {
  InvalidMessageError,
  parseJsonMessage,
  parseUploadEvent,
  parseVideoDeleted,
  type ConversionJob,
  type VideoUploaded,
  type VideoUploading,
} from '../../lib/contracts/messages.js';
import { parseMp3Options } from '../../lib/contracts/mp3Options.js';
import { isDuplicateKeyError } from '../../lib/platform/mongo.js';

/** What one user may ask of the conversion service (ConversionConfig documents each). */
export interface ConversionLimits {
  /** QUEUED or RUNNING conversions one user may have before convertVideo is refused. */
  maxActivePerUser: number;
  /** Conversions one video may ever have (the upload's own included). */
  maxPerVideo: number;
  /** Jobs one user may have out to the workers at once; the rest wait their turn. */
  maxRunningPerUser: number;
  /** convertVideo and cancelConversion calls per user per minute. */
  mutationsPerMinute: number;
}

/** What conversion knows of a video, from its upload's events: enough to convert it again. */
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

/** What the conversion subgraph's resolvers and process use. */
export interface ConversionService {
  /** Starts consuming upload and delete events, sweeping silent jobs and dispatching turns. */
  start(): void;
  /** Stops the timers and waits for passes in progress. */
  stop(): Promise<void>;
  /** Within the owner's request rate and quotas, a new conversion; it runs in its turn. */
  convertVideo(owner: string, videoId: string, mp3: unknown): Promise<ConversionRecord>;
  /** Cancels an owner's QUEUED or RUNNING conversion; a finished one is returned as it is. */
  cancel(owner: string, id: string): Promise<ConversionRecord>;
}

/** How often waiting conversions are looked at for a free turn (their owner's job ended). */
const DISPATCH_INTERVAL_MS = 1_000;

/**
 * The conversion lifecycle on the service side: turning uploads into queued jobs
 * (idempotently), dispatching them fairly, converting again within quotas, cancelling, and
 * forgetting deleted videos. Workers own RUNNING → SUCCEEDED/FAILED.
 */
export async function createConversionService(deps: {
  db: Db;
  conversions: Conversions;
  broker: Broker;
  log: Logger;
  /** See ConversionConfig.staleAfterMs. */
  staleAfterMs: number;
  /** Where the dropped-forgery counter goes (the process's /metrics). */
  registry: Registry;
  limits: ConversionLimits;
}): Promise<ConversionService> {
  const { conversions, broker, log, limits } = deps;
  const forgedEvents = new Counter({
    name: 'conversion_forged_events_total',
    help: 'Upload events dropped because they named another owner than the video has',
    labelNames: ['type'] as const,
    registers: [deps.registry],
  });
  const rates = createRateWindows(deps.db);
  const videos = deps.db.collection<VideoProjection>('videos');
  await videos.createIndex({ owner: 1 }, { name: 'by_owner' });

  const announce = (record: ConversionRecord) => broker.publishEvent(conversionUpdated(record));

  /** Sends the conversion's job and records when. */
  const sendJob = async (record: ConversionRecord): Promise<ConversionRecord> => {
    const job: ConversionJob = {
      type: 'conversion.job',
      version: 1,
      conversionId: record._id.toHexString(),
      videoId: record.videoId,
      ownerId: record.owner,
      filename: record.filename,
      options: record.options,
    };
    await broker.sendToQueue(broker.topology.queues.jobs, job);
    const jobSentAt = new Date();
    await conversions.markSent(record._id, jobSentAt);
    return { ...record, jobSentAt };
  };

  /** Queues the job once; a repeat (redelivered event, retried request) finds it sent. */
  const ensureJobSent = async (record: ConversionRecord): Promise<ConversionRecord> => {
    if (record.jobSentAt || record.status !== 'QUEUED') return record;
    // QUEUED is announced (and confirmed) before the job exists, so no subscriber can see a
    // worker's RUNNING before it.
    await announce(record);
    return sendJob(record);
  };

  // An earlier delivery of the same event may have made it already: then that one.
  const create = (id: ObjectId, video: VideoProjection, options: ConversionRecord['options']) =>
    conversions.create({
      id,
      videoId: video._id,
      owner: video.owner,
      filename: video.filename,
      options,
    });

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
    for (const record of await conversions.forVideo(videoId)) {
      const cancelled = await conversions.cancel(record._id);
      if (cancelled) await announce(cancelled);
    }
    await conversions.removeForVideo(videoId);
  };

  /** Sends a waiting conversion's job, unless its video was deleted meanwhile. */
  const sendUnlessDeleted = async (record: ConversionRecord) => {
    if (await isDeleted(record.videoId)) {
      await forgetConversions(record.videoId);
      return null;
    }
    return ensureJobSent(record);
  };

  /**
   * Sends an owner's waiting jobs, oldest first, while the owner has fewer than
   * `maxRunningPerUser` jobs out: one user's backlog waits here, in the database, instead of in
   * the queue in front of everyone else's jobs. Replicas may race to send the same conversion;
   * a worker drops the duplicate when it takes it.
   */
  const dispatchOwner = async (owner: string) => {
    const turns = limits.maxRunningPerUser - (await conversions.countDispatched(owner));
    if (turns <= 0) return;
    for (const record of await conversions.undispatched(owner, turns)) {
      await sendUnlessDeleted(record);
    }
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
   * Every second: each owner with a conversion waiting gets a pass (a job that ended freed a
   * turn, or a send failed earlier), each on its own, so one owner's failure stops no other.
   */
  let ticking: Promise<void> | undefined;
  const tick = () =>
    (ticking ??= (async () => {
      for (const owner of await conversions.ownersWaiting()) {
        await dispatchFor(owner).catch((error: unknown) =>
          log.warn({ err: error, owner }, 'dispatch failed; trying again'),
        );
      }
    })()
      .catch((error: unknown) => log.warn({ err: error }, 'dispatch pass failed; trying again'))
      .finally(() => (ticking = undefined)));

  /**
   * The upload's own conversion is made on the first of its two events: `video.uploading`
   * (the upload has begun, so a worker can convert it as it arrives) or, if that one was lost,
   * `video.uploaded`. A worker accepts the MP3 only once media has stored and announced the
   * upload, and an upload that fails is followed by `video.deleted`, which removes it.
   */
  const onUploadEvent = async (event: VideoUploading | VideoUploaded) => {
    const video = { _id: event.videoId, owner: event.ownerId, filename: event.filename };
    let known: VideoProjection | null;
    try {
      // Matches nothing once tombstoned, so the upsert's insert collides on _id: deleted. The
      // owner and name are the first event's: a later event cannot move a video to another
      // owner.
      known = await videos.findOneAndUpdate(
        { _id: video._id, deleted: { $ne: true } },
        { $setOnInsert: { owner: video.owner, filename: video.filename } },
        { upsert: true, returnDocument: 'after' },
      );
    } catch (error) {
      if (isDuplicateKeyError(error)) return;
      throw error;
    }
    if (known?.owner !== video.owner) {
      // Media never sends this: whoever can publish to the exchange is trying to take the video.
      forgedEvents.inc({ type: event.type });
      log.warn(
        { videoId: video._id, owner: known?.owner, claimed: video.owner, type: event.type },
        'upload event naming another owner dropped',
      );
      return;
    }
    // The upload's own conversion shares the video's id: a redelivered event cannot add one.
    await create(new ObjectId(event.videoId), video, event.mp3);
    // Conversions a worker set aside while the upload streamed too slowly may run now.
    if (event.type === 'video.uploaded') await conversions.uploadEnded(event.videoId);
    await dispatchFor(video.owner);
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
   * replicas do not double it): hands a conversion whose worker went silent (frozen, cut off,
   * or gone without RabbitMQ noticing) to another worker. A stale worker that wakes up finds
   * its run taken and stops. (A job whose sender failed before sending is the dispatcher's.)
   */
  const sweep = async () => {
    const cutoff = new Date(Date.now() - deps.staleAfterMs);
    // A job still QUEUED long after it was sent may have been lost (a purged queue); as it
    // holds its owner's turn, send it again. A worker drops whichever copy comes second.
    for (const record of await conversions.sentBefore(
      new Date(Date.now() - 5 * deps.staleAfterMs),
    )) {
      log.warn(
        { conversionId: record._id.toHexString() },
        'sweeper: job sent long ago; sending it again',
      );
      await sendJob(record);
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
  let dispatchTimer: NodeJS.Timeout | undefined;

  /** convertVideo and cancelConversion share one budget per user. */
  const spendRequest = (owner: string) =>
    spendOrRefuse(
      rates,
      `mutations:${owner}`,
      { max: limits.mutationsPerMinute, windowSeconds: 60 },
      'conversion requests',
    );
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
        consumer(parseUploadEvent, onUploadEvent),
      );
      broker.consume(
        broker.topology.queues.videoDeleted,
        8,
        consumer(parseVideoDeleted, (event) => onVideoDeleted(event.videoId)),
      );
      sweepTimer = setInterval(() => void sweepOnce(), Math.min(15_000, deps.staleAfterMs / 4));
      sweepTimer.unref();
      dispatchTimer = setInterval(() => void tick(), DISPATCH_INTERVAL_MS);
      dispatchTimer.unref();
    },

    async stop() {
      clearInterval(sweepTimer);
      clearInterval(dispatchTimer);
      await sweeping;
      await ticking;
      await Promise.all(passes.values());
    },

    async convertVideo(owner: string, videoId: string, mp3: unknown): Promise<ConversionRecord> {
      await spendRequest(owner);
      const options = parseMp3Options(mp3);
      const video = await videos.findOne({ _id: videoId, owner, deleted: { $ne: true } });
      if (!video) throw graphqlError(ErrorCode.NOT_FOUND, 'Video not found');
      // Checked before the record exists (the usual refusal) and again after (the count then
      // includes it), so requests racing in parallel cannot all pass on the same last place.
      const overQuota = async (counting: 0 | 1) => {
        if ((await conversions.countActive(owner)) > limits.maxActivePerUser - 1 + counting) {
          return graphqlError(
            ErrorCode.QUOTA_EXCEEDED,
            `You have ${limits.maxActivePerUser} conversions queued or running; convert again once one ends`,
            { reason: 'ACTIVE_CONVERSIONS', limit: limits.maxActivePerUser },
          );
        }
        if ((await conversions.countForVideo(video._id)) > limits.maxPerVideo - 1 + counting) {
          return graphqlError(
            ErrorCode.QUOTA_EXCEEDED,
            `This video has been converted ${limits.maxPerVideo} times, the most a video may be`,
            { reason: 'CONVERSIONS_PER_VIDEO', limit: limits.maxPerVideo },
          );
        }
        return undefined;
      };
      const refused = await overQuota(0);
      if (refused) throw refused;
      const record = await create(new ObjectId(), video, options);
      try {
        const raced = await overQuota(1);
        if (raced) throw raced;
        if (await isDeleted(record.videoId)) {
          await forgetConversions(record.videoId);
          throw graphqlError(ErrorCode.NOT_FOUND, 'Video not found');
        }
        await dispatchFor(owner);
        // As created: QUEUED, whether its job went out now or waits for the owner's turn.
        return record;
      } catch (error) {
        // The caller is told to retry; a conversion it was told failed must not run later.
        await conversions.withdraw(record._id);
        throw error;
      }
    },

    async cancel(owner: string, id: string): Promise<ConversionRecord> {
      await spendRequest(owner);
      const record = await conversions.findOwned(id, owner);
      if (!record) throw graphqlError(ErrorCode.NOT_FOUND, 'Conversion not found');
      const cancelled = await conversions.cancel(record._id);
      if (!cancelled) return record; // already finished: nothing to stop
      await announce(cancelled);
      return cancelled;
    },
  };
}
