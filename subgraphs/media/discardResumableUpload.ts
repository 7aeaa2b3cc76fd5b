import type { Db } from 'mongodb';
import type { Broker } from '../../lib/broker/createBroker.js';
import { VIDEO_RECORDS } from '../../lib/stores/gridfs.js';
import type { StorageQuota } from '../../lib/stores/storageQuota.js';
import { markUploadRemoval, removeUploadFile } from '../../lib/stores/uploadFiles.js';
import type { ResumableUpload, ResumableUploads } from './createResumableUploads.js';

/**
 * Takes away an unfinished resumable upload (terminated by its owner, or expired): its chunks,
 * its marker, the room it held and its record. A conversion begun on it while it streamed
 * hears video.deleted; with the broker away, the removal's marker stays for the janitor to
 * announce it. Safe to repeat. A finished upload is a video: only its upload record goes, also
 * when the video was recorded and the upload not yet marked finished.
 */
export async function discardResumableUpload(
  deps: { db: Db; uploads: ResumableUploads; broker: Broker; quota: StorageQuota },
  upload: ResumableUpload,
): Promise<void> {
  const { db, uploads } = deps;
  // Made a video but not yet marked so (its process stopped between the two): a video's file
  // is not the upload's to take.
  const recorded = await db.collection(VIDEO_RECORDS).findOne({ _id: upload._id });
  if (upload.completed || recorded) {
    await uploads.remove(upload._id);
    return;
  }
  await markUploadRemoval(db, upload._id, upload.owner);
  const told = await deps.broker
    .publishEvent({
      type: 'video.deleted',
      version: 1,
      videoId: upload._id.toHexString(),
      ownerId: upload.owner,
    })
    .then(
      () => true,
      () => false,
    );
  await removeUploadFile(db, upload._id, { keepMarker: !told, owner: upload.owner });
  await deps.quota.release(`upload:${upload._id.toHexString()}`);
  await uploads.remove(upload._id);
}
