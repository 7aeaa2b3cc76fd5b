import type { Db } from 'mongodb';
import type { Broker } from '../../lib/broker/createBroker.js';
import { eventConsumer } from '../../lib/broker/eventConsumer.js';
import {
  parseConversionFinished,
  parseVideoDeleted,
  type ConversionFinished,
} from '../../lib/contracts/messages.js';
import type { Logger } from '../../lib/platform/logger.js';
import type { ObjectId } from 'mongodb';
import type { Channel, DeliveryStore, DueDelivery } from './createDeliveryStore.js';
import { noticeTypeOf, type NoticeType } from './noticeTypes.js';

/** Where one user asked to hear of one kind of notice: a webhook endpoint, an address. */
export interface NoticeTarget {
  channel: Channel;
  targetId: ObjectId;
}

/** The events the notification service takes in, from its two durable queues. */
export interface NoticeIntake {
  onConversionFinished(event: ConversionFinished): Promise<void>;
  onVideoDeleted(videoId: string): Promise<void>;
  start(): void;
}

/**
 * Turns each `conversion.finished` into one delivery per target its owner chose for it, made
 * once: a redelivered event (or one the conversion service sent again) finds them made and
 * adds none. `video.deleted` drops what is still pending for the video and leaves a tombstone,
 * so a final state that arrives after it makes nothing.
 */
export function createNoticeIntake(deps: {
  db: Db;
  /** The owner's targets for a notice of `type`, on every channel. */
  targetsFor: (owner: string, type: NoticeType) => Promise<NoticeTarget[]>;
  deliveries: DeliveryStore;
  broker: Broker;
  /** Told of each new delivery, so it goes out now. */
  onQueued: (delivery: DueDelivery) => void;
  log: Logger;
}): NoticeIntake {
  const { deliveries, broker, log } = deps;
  const deletedVideos = deps.db.collection<{ _id: string; at: Date }>('deletedVideos');

  const onConversionFinished = async (event: ConversionFinished) => {
    if (await deletedVideos.findOne({ _id: event.videoId })) return;
    const type = noticeTypeOf(event.status);
    for (const { channel, targetId } of await deps.targetsFor(event.ownerId, type)) {
      const fresh = await deliveries.enqueue({
        owner: event.ownerId,
        channel,
        targetId,
        eventKey: `${event.conversionId}:${event.status}`,
        type,
        conversionId: event.conversionId,
        videoId: event.videoId,
        filename: event.filename,
        status: event.status,
        errorCode: event.errorCode,
        audioId: event.audioId,
        occurredAt: new Date(event.finishedAt),
      });
      if (fresh) deps.onQueued(fresh);
    }
  };

  const onVideoDeleted = async (videoId: string) => {
    await deletedVideos.updateOne(
      { _id: videoId },
      { $setOnInsert: { at: new Date() } },
      { upsert: true },
    );
    const dropped = await deliveries.dropForVideo(videoId);
    if (dropped > 0)
      log.info({ videoId, dropped }, 'video deleted: its pending deliveries dropped');
  };

  return {
    onConversionFinished,
    onVideoDeleted,
    start() {
      const { queues } = broker.topology;
      broker.consume(
        queues.conversionFinished,
        16,
        eventConsumer(parseConversionFinished, onConversionFinished, log),
      );
      broker.consume(
        queues.notificationVideoDeleted,
        16,
        eventConsumer(parseVideoDeleted, (event) => onVideoDeleted(event.videoId), log),
      );
    },
  };
}
