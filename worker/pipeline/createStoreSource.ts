import type { Db, ObjectId } from 'mongodb';
import {
  expectAnnouncedUpload,
  followVideoUpload,
  videoUploadState,
} from '../../lib/stores/followUpload.js';
import type { VideoSource } from './types.js';

/**
 * The source of a real run: the upload in media's store, followed chunk by chunk while it
 * streams (any worker can follow any media replica's upload: all it reads is the store).
 * `staleAfterMs`: an upload marked longer ago than that died with its media process.
 */
export function createStoreSource(db: Db, videoId: ObjectId, staleAfterMs: number): VideoSource {
  return {
    state: () => videoUploadState(db, videoId, staleAfterMs),
    read: (signal) => followVideoUpload(db, videoId, { staleAfterMs, signal }),
    expectAnnounced: (read, signal) =>
      expectAnnouncedUpload(db, videoId, read, { staleAfterMs, signal }),
  };
}
