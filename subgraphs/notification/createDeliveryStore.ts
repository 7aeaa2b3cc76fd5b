import { ObjectId, type Db, type MongoServerError } from 'mongodb';
import { ErrorCode, graphqlError } from '../../lib/contracts/errors.js';

export type DeliveryStatus = 'PENDING' | 'DELIVERED' | 'FAILED' | 'DROPPED';

/** How each channel reaches its targets; a delivery is one notice to one target. */
export type Channel = 'webhook' | 'email' | 'push';

export interface AttemptRecord {
  at: Date;
  statusCode: number | null;
  durationMs: number;
  error: string | null;
  responseHead: string;
}

/** What a notice says, whichever channel carries it. */
export interface Notice {
  type: string;
  conversionId: string | null;
  videoId: string | null;
  filename: string | null;
  status: string | null;
  errorCode: string | null;
  /** The MP3, for a link made when each attempt is sent (links expire). */
  audioId: string | null;
  occurredAt: Date;
}

export interface DeliveryRecord extends Notice {
  /** Also the `webhook-id` of every attempt. */
  _id: ObjectId;
  owner: string;
  channel: Channel;
  targetId: ObjectId;
  /** What makes a notice the same one twice: `<conversion>:<status>`, or a test's own id. */
  eventKey: string;
  deliveryStatus: DeliveryStatus;
  /** The last 50, oldest first. */
  attempts: AttemptRecord[];
  /** Failed attempts since it was made or replayed: where it stands in the retry schedule. */
  round: number;
  /**
   * When it is next due: its next attempt, or, while an attempt is under way, when that
   * attempt counts as lost (its process died) and the delivery is due again.
   */
  nextAttemptAt: Date | null;
  createdAt: Date;
}

export type NewDelivery = Omit<
  DeliveryRecord,
  '_id' | 'deliveryStatus' | 'attempts' | 'round' | 'nextAttemptAt' | 'createdAt'
>;

/** Where and when a pending delivery is due: what a sender needs to plan, without the rest. */
export type DueDelivery = Pick<DeliveryRecord, '_id' | 'targetId' | 'nextAttemptAt'>;

export const ATTEMPTS_KEPT = 50;

/**
 * Deliveries (collection `deliveries`): made once per (target, event), claimed when due by one
 * sender at a time, each attempt recorded. Due times live here, not in timers, so a restart
 * loses no retry.
 */
export interface DeliveryStore {
  /** The delivery of a notice to its target, due now; null when it was made before (a redelivery). */
  enqueue(fields: NewDelivery): Promise<DeliveryRecord | null>;
  /**
   * This delivery if it is PENDING and due at `now`, out of the way until `leaseUntil` (its
   * attempt's limit and some); null when it is not (another sender has it, or it ended). By id,
   * so the store answers it from its primary key whatever else is pending.
   */
  claim(id: ObjectId, now: Date, leaseUntil: Date): Promise<DeliveryRecord | null>;
  /** PENDING deliveries due by `before`, as many as `limit`: where and when only. */
  dueBy(before: Date, limit: number): Promise<DueDelivery[]>;
  /** One attempt recorded; `next` is its next due time, or null with `final` set. */
  recordAttempt(
    id: ObjectId,
    attempt: AttemptRecord,
    outcome: { next: Date; round: number } | { final: 'DELIVERED' | 'FAILED' | 'DROPPED' },
  ): Promise<void>;
  findOwned(id: string, owner: string): Promise<DeliveryRecord | null>;
  forTarget(targetId: ObjectId, first: number): Promise<DeliveryRecord[]>;
  /** Due again now, from the start of the schedule, under the same id (NOT_FOUND if not the owner's). */
  replay(id: string, owner: string, now: Date): Promise<DeliveryRecord>;
  /** Stops what is still PENDING for the video, or the target. */
  dropForVideo(videoId: string): Promise<number>;
  dropForTarget(targetId: ObjectId): Promise<number>;
}

export async function createDeliveryStore(db: Db): Promise<DeliveryStore> {
  const deliveries = db.collection<DeliveryRecord>('deliveries');
  await deliveries.createIndex(
    { targetId: 1, eventKey: 1 },
    { name: 'one_per_target_event', unique: true },
  );
  await deliveries.createIndex({ deliveryStatus: 1, nextAttemptAt: 1 }, { name: 'by_due' });
  await deliveries.createIndex({ targetId: 1, createdAt: -1 }, { name: 'by_target_newest' });
  await deliveries.createIndex({ videoId: 1, deliveryStatus: 1 }, { name: 'by_video' });
  const idOf = (id: string) => (/^[0-9a-f]{24}$/i.test(id) ? new ObjectId(id) : null);

  return {
    async enqueue(fields) {
      const record: DeliveryRecord = {
        _id: new ObjectId(),
        ...fields,
        deliveryStatus: 'PENDING',
        attempts: [],
        round: 0,
        nextAttemptAt: new Date(),
        createdAt: new Date(),
      };
      try {
        await deliveries.insertOne(record);
        return record;
      } catch (error) {
        if ((error as MongoServerError).code === 11000) return null;
        throw error;
      }
    },
    claim: (id, now, leaseUntil) =>
      deliveries.findOneAndUpdate(
        { _id: id, deliveryStatus: 'PENDING', nextAttemptAt: { $lte: now } },
        { $set: { nextAttemptAt: leaseUntil } },
        { returnDocument: 'after' },
      ),
    dueBy: (before, limit) =>
      deliveries
        .find(
          { deliveryStatus: 'PENDING', nextAttemptAt: { $lte: before } },
          { projection: { _id: 1, targetId: 1, nextAttemptAt: 1 } },
        )
        .limit(limit)
        .toArray(),
    async recordAttempt(id, attempt, outcome) {
      const set =
        'final' in outcome
          ? { deliveryStatus: outcome.final, nextAttemptAt: null }
          : { nextAttemptAt: outcome.next, round: outcome.round };
      // A delivery dropped while its attempt was under way stays dropped.
      await deliveries.updateOne(
        { _id: id, deliveryStatus: 'PENDING' },
        { $set: set, $push: { attempts: { $each: [attempt], $slice: -ATTEMPTS_KEPT } } },
      );
    },
    findOwned: async (id, owner) => {
      const _id = idOf(id);
      return _id ? deliveries.findOne({ _id, owner }) : null;
    },
    forTarget: (targetId, first) =>
      deliveries.find({ targetId }).sort({ createdAt: -1 }).limit(first).toArray(),
    async replay(id, owner, now) {
      const _id = idOf(id);
      const replayed =
        _id &&
        (await deliveries.findOneAndUpdate(
          { _id, owner },
          { $set: { deliveryStatus: 'PENDING', nextAttemptAt: now, round: 0 } },
          { returnDocument: 'after' },
        ));
      if (!replayed) throw graphqlError(ErrorCode.NOT_FOUND, 'No such delivery');
      return replayed;
    },
    async dropForVideo(videoId) {
      const result = await deliveries.updateMany(
        { videoId, deliveryStatus: 'PENDING' },
        { $set: { deliveryStatus: 'DROPPED', nextAttemptAt: null } },
      );
      return result.modifiedCount;
    },
    async dropForTarget(targetId) {
      const result = await deliveries.updateMany(
        { targetId, deliveryStatus: 'PENDING' },
        { $set: { deliveryStatus: 'DROPPED', nextAttemptAt: null } },
      );
      return result.modifiedCount;
    },
  };
}
