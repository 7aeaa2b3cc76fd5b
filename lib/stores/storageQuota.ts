import type { Db } from 'mongodb';
import { AUDIO_BUCKET } from './gridfs.js';

/**
 * Room held in media's database for what is being written and not yet counted: an upload in
 * flight (its largest possible size), an MP3 being made (its expected size). Each names its
 * owner and expires, so room held by a process that died comes back on its own.
 */
export const STORAGE_RESERVATIONS = 'storage_reservations';

/**
 * What holds room: an upload (by its file id) or an MP3 in the making (by its conversion's id).
 * An upload's own conversion shares its id, and both hold room at once while it streams.
 */
export type ReservationKey = `upload:${string}` | `mp3:${string}`;

interface StorageReservation {
  _id: ReservationKey;
  owner: string;
  bytes: number;
  /** When it was first held: reservations racing for the last room are served in this order. */
  heldSince: Date;
  expiresAt: Date;
}

/** One user's storage, `MAX_STORED_BYTES_PER_USER`, as media and the workers both count it. */
export interface StorageQuota {
  /** The most one user may keep and hold. */
  readonly maxBytes: number;
  /** What the owner keeps (videos, MP3s) and holds (unexpired reservations), in bytes. */
  bytesUsed(owner: string): Promise<number>;
  /**
   * Holds `bytes` for `key` (replacing what it held) until released or `ttlMs` has passed.
   * False, holding nothing, when that would take the owner past the quota. Written first and
   * judged after, in the order reservations were first held: of several racing for the same
   * last room, the earliest that fit keep it and the others are refused, never all of them.
   */
  reserve(key: ReservationKey, owner: string, bytes: number, ttlMs: number): Promise<boolean>;
  release(key: ReservationKey): Promise<void>;
}

export async function createStorageQuota(db: Db, maxBytes: number): Promise<StorageQuota> {
  const reservations = db.collection<StorageReservation>(STORAGE_RESERVATIONS);
  await reservations.createIndex({ owner: 1 }, { name: 'by_owner' });
  await db
    .collection(`${AUDIO_BUCKET}.files`)
    .createIndex({ 'metadata.owner': 1 }, { name: 'by_owner' });
  const sum = async (collection: string, match: Record<string, unknown>, bytesField: string) => {
    const [total] = await db
      .collection(collection)
      .aggregate<{ bytes: number }>([
        { $match: match },
        { $group: { _id: null, bytes: { $sum: `$${bytesField}` } } },
      ])
      .toArray();
    return total?.bytes ?? 0;
  };

  /** What the owner keeps: videos and MP3s. */
  const bytesKept = async (who: string) =>
    (await sum('videos', { owner: who }, 'bytes')) +
    (await sum(`${AUDIO_BUCKET}.files`, { 'metadata.owner': who }, 'length'));

  const quota: StorageQuota = {
    maxBytes,
    async bytesUsed(who) {
      const held = await sum(
        STORAGE_RESERVATIONS,
        { owner: who, expiresAt: { $gt: new Date() } },
        'bytes',
      );
      return (await bytesKept(who)) + held;
    },
    async reserve(key, who, bytes, ttlMs) {
      await reservations.updateOne(
        { _id: key },
        {
          $set: { owner: who, bytes, expiresAt: new Date(Date.now() + ttlMs) },
          $setOnInsert: { heldSince: new Date() },
        },
        { upsert: true },
      );
      const held = await reservations
        .find({ owner: who, expiresAt: { $gt: new Date() } })
        .sort({ heldSince: 1, _id: 1 })
        .toArray();
      let total = await bytesKept(who);
      for (const reservation of held) {
        total += reservation.bytes;
        if (reservation._id === key) break;
      }
      if (total <= maxBytes) return true;
      await quota.release(key);
      return false;
    },
    async release(key) {
      await reservations.deleteOne({ _id: key });
    },
  };
  return quota;
}
