import { ObjectId, type Db } from 'mongodb';
import type { Registry } from 'prom-client';
import type { Broker } from '../../lib/broker/createBroker.js';
import type {
  ConversionEngine,
  ConversionRecord,
} from '../../lib/conversions/createConversionEngine.js';
import { createRateWindows, spendOrRefuse } from '../../lib/stores/createRateWindows.js';
import { ErrorCode, graphqlError } from '../../lib/contracts/errors.js';
import type { Logger } from '../../lib/platform/logger.js';
import { parseMp3Options } from '../../lib/contracts/mp3Options.js';
import { createDispatcher } from './createDispatcher.js';
import { createIntake } from './createIntake.js';
import { createSweeper } from './createSweeper.js';
import type { VideoProjections } from './createVideoProjections.js';

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

/**
 * The conversion lifecycle on the service side, composed of its units: intake (upload events
 * into queued conversions, deletions into tombstones), the dispatcher (fair turns) and the
 * sweeper (lost and silent jobs); and the two requests, converting again within quotas and
 * cancelling. Workers own RUNNING → SUCCEEDED/FAILED; the engine announces every change.
 */
export function createConversionService(deps: {
  db: Db;
  engine: ConversionEngine;
  videos: VideoProjections;
  broker: Broker;
  log: Logger;
  /** See ConversionConfig.staleAfterMs. */
  staleAfterMs: number;
  /** Where the dropped-forgery counter goes (the process's /metrics). */
  registry: Registry;
  limits: ConversionLimits;
}): ConversionService {
  const { engine, videos, broker, log, limits } = deps;
  const rates = createRateWindows(deps.db);
  const dispatcher = createDispatcher({
    engine,
    videos,
    maxRunningPerUser: limits.maxRunningPerUser,
    log,
  });
  const intake = createIntake({
    engine,
    videos,
    broker,
    dispatchFor: dispatcher.dispatchFor,
    log,
    registry: deps.registry,
  });
  const sweeper = createSweeper({ engine, staleAfterMs: deps.staleAfterMs, log });

  /** convertVideo and cancelConversion share one budget per user. */
  const spendRequest = (owner: string) =>
    spendOrRefuse(
      rates,
      `mutations:${owner}`,
      { max: limits.mutationsPerMinute, windowSeconds: 60 },
      'conversion requests',
    );

  /**
   * Why convertVideo is refused (QUOTA_EXCEEDED) when the owner has too many
   * conversions active or the video has been converted too often. `counting` is 1 once the new
   * record exists (the counts then include it).
   */
  const overQuota = async (owner: string, videoId: string, counting: 0 | 1) => {
    if ((await engine.countActive(owner)) > limits.maxActivePerUser - 1 + counting) {
      return graphqlError(
        ErrorCode.QUOTA_EXCEEDED,
        `You have ${limits.maxActivePerUser} conversions queued or running; convert again once one ends`,
        { reason: 'ACTIVE_CONVERSIONS', limit: limits.maxActivePerUser },
      );
    }
    if ((await engine.countForVideo(videoId)) > limits.maxPerVideo - 1 + counting) {
      return graphqlError(
        ErrorCode.QUOTA_EXCEEDED,
        `This video has been converted ${limits.maxPerVideo} times, the most a video may be`,
        { reason: 'CONVERSIONS_PER_VIDEO', limit: limits.maxPerVideo },
      );
    }
    return undefined;
  };

  return {
    start() {
      intake.start();
      sweeper.start();
      dispatcher.start();
    },

    async stop() {
      await sweeper.stop();
      await dispatcher.stop();
    },

    async convertVideo(owner: string, videoId: string, mp3: unknown): Promise<ConversionRecord> {
      await spendRequest(owner);
      const options = parseMp3Options(mp3);
      const video = await videos.findLive(videoId, owner);
      if (!video) throw graphqlError(ErrorCode.NOT_FOUND, 'Video not found');
      // Checked before the record exists (the usual refusal) and again after, so requests
      // racing in parallel cannot all pass on the same last place.
      const refused = await overQuota(owner, video._id, 0);
      if (refused) throw refused;
      const record = await engine.create({
        id: new ObjectId(),
        videoId: video._id,
        owner: video.owner,
        filename: video.filename,
        options,
      });
      try {
        const raced = await overQuota(owner, video._id, 1);
        if (raced) throw raced;
        if (await videos.isDeleted(record.videoId)) {
          await engine.forgetVideo(record.videoId);
          throw graphqlError(ErrorCode.NOT_FOUND, 'Video not found');
        }
        await dispatcher.dispatchFor(owner);
        // As created: QUEUED, whether its job went out now or waits for the owner's turn.
        return record;
      } catch (error) {
        // The caller is told to retry; a conversion it was told failed must not run later.
        await engine.withdraw(record._id);
        throw error;
      }
    },

    async cancel(owner: string, id: string): Promise<ConversionRecord> {
      await spendRequest(owner);
      const record = await engine.findOwned(id, owner);
      if (!record) throw graphqlError(ErrorCode.NOT_FOUND, 'Conversion not found');
      // Already finished: nothing to stop, returned as it is.
      return (await engine.cancel(record._id)) ?? record;
    },
  };
}
