import type { Db } from 'mongodb';
import { isDuplicateKeyError } from '../../lib/platform/mongo.js';

/** What conversion knows of a video, from its upload's events: enough to convert it again. */
export interface VideoProjection {
  _id: string;
  owner: string;
  filename: string;
  /**
   * Kept after video.deleted so a video.uploaded that arrives later (the two travel on
   * different queues) cannot bring its conversion back.
   */
  deleted?: true;
}

/** The videos conversion has heard of, and the tombstones of those deleted. */
export interface VideoProjections {
  /**
   * Records the video an upload event names, unless it is known already: the first event's
   * owner and name stay (a later event cannot move a video to another owner). Returns the video
   * as known, or `'deleted'` when it has a tombstone.
   */
  remember(video: Omit<VideoProjection, 'deleted'>): Promise<VideoProjection | 'deleted'>;
  /** Tombstones the video (forgetting its owner and name). */
  markDeleted(videoId: string): Promise<void>;
  isDeleted(videoId: string): Promise<boolean>;
  /** The owner's video, unless deleted. */
  findLive(videoId: string, owner: string): Promise<VideoProjection | null>;
}

/** The projections in the conversion database's `videos` collection. */
export async function createVideoProjections(db: Db): Promise<VideoProjections> {
  const videos = db.collection<VideoProjection>('videos');
  await videos.createIndex({ owner: 1 }, { name: 'by_owner' });
  return {
    async remember(video) {
      try {
        // Matches nothing once tombstoned, so the upsert's insert collides on _id: deleted.
        const known = await videos.findOneAndUpdate(
          { _id: video._id, deleted: { $ne: true } },
          { $setOnInsert: { owner: video.owner, filename: video.filename } },
          { upsert: true, returnDocument: 'after' },
        );
        return known ?? 'deleted';
      } catch (error) {
        if (isDuplicateKeyError(error)) return 'deleted';
        throw error;
      }
    },
    async markDeleted(videoId) {
      await videos.updateOne(
        { _id: videoId },
        { $set: { deleted: true }, $unset: { owner: '', filename: '' } },
        { upsert: true },
      );
    },
    isDeleted: async (videoId) =>
      (await videos.findOne({ _id: videoId, deleted: true }, { projection: { _id: 1 } })) !== null,
    findLive: (videoId, owner) => videos.findOne({ _id: videoId, owner, deleted: { $ne: true } }),
  };
}
