import type { Db, ObjectId } from 'mongodb';
import type { Broker } from '../../lib/broker/createBroker.js';
import {
  dropUploadMarker,
  isUploadStored,
  removeUploadFile,
  uploadFilesStoredBetween,
  uploadsMarkedBefore,
} from '../../lib/stores/uploadFiles.js';
import type { Logger } from '../../lib/platform/logger.js';
import { createRecurringPass } from '../../lib/platform/createRecurringPass.js';
import type { VideoStore } from './createVideoStore.js';
import { withdrawVideo } from './withdrawVideo.js';
import type { ResumableUploads } from './createResumableUploads.js';
import { discardResumableUpload } from './discardResumableUpload.js';
import type { StorageQuota } from '../../lib/stores/storageQuota.js';

/**
 * Removes what a crash or a database outage left half-done in media, once it cannot belong to
 * anything still running. Nothing unfinished can be older than the upload time limit: an upload
 * streaming now started less than that ago. Twice the limit leaves room for clocks and restarts.
 *
 * - what an upload that died mid-stream, or a removal cut off half-way, left of a video file
 *   (its upload marker is still there), and the marker;
 * - a video file without its record (stored, then the record could not be written);
 * - a record whose upload was never announced (the client was told it failed);
 * - a resumable upload past its expiry: its chunks, marker, room and record.
 *
 * MP3 chunks are left to the worker, which removes a partial MP3 before it writes again and can
 * see whether the conversion still runs; media cannot.
 */
export function createJanitor(deps: {
  db: Db;
  store: VideoStore;
  broker: Broker;
  log: Logger;
  uploadTimeoutMs: number;
  /** Resumable uploads, whose unfinished ones expire (RESUMABLE_UPLOAD_EXPIRY_SECONDS). */
  resumable: { uploads: ResumableUploads; quota: StorageQuota; expiryMs: number };
}) {
  const { db, log } = deps;
  const abandonAfterMs = 2 * deps.uploadTimeoutMs;
  const { uploads, quota } = deps.resumable;
  // Each pass looks only at what aged past the cutoff since the last one (with one period of
  // overlap); the first pass after a start looks at everything.
  let checkedUpTo = new Date(0);

  /**
   * An upload's start may have been announced (video.uploading): conversion drops what it
   * began. Repeating this for a video already announced deleted is harmless.
   */
  const announceGone = (id: ObjectId, owner: string) =>
    deps.broker.publishEvent({
      type: 'video.deleted',
      version: 1,
      videoId: id.toHexString(),
      ownerId: owner,
    });

  const hasRecord = async (_id: ObjectId) =>
    (await db.collection('videos').findOne({ _id }, { projection: { _id: 1 } })) !== null;

  async function sweep(): Promise<number> {
    const cutoff = new Date(Date.now() - abandonAfterMs);
    const since = new Date(Math.max(0, checkedUpTo.getTime() - abandonAfterMs));
    let removed = 0;

    for (const { _id, owner } of await uploadsMarkedBefore(db, cutoff)) {
      // A whole file with its record is a finished upload whose marker outlived it; anything
      // else marked this long ago is an upload or a removal that died half-way.
      if ((await isUploadStored(db, _id)) && (await hasRecord(_id))) {
        await dropUploadMarker(db, _id);
        continue;
      }
      if (owner) await announceGone(_id, owner);
      await removeUploadFile(db, _id);
      log.warn(
        { fileId: _id.toHexString() },
        'janitor: removed what an unfinished upload or removal left',
      );
      removed++;
    }

    for (const { _id, metadata } of await uploadFilesStoredBetween(db, since, cutoff)) {
      if (await hasRecord(_id)) continue;
      // Its conversion may have begun while it streamed (video.uploading).
      if (metadata?.owner) await announceGone(_id, metadata.owner);
      await removeUploadFile(db, _id);
      log.warn({ fileId: _id.toHexString() }, 'janitor: removed a video file without a record');
      removed++;
    }

    for (const record of await deps.store.unannounced(cutoff)) {
      await withdrawVideo(deps, record, true);
      log.warn({ videoId: record._id.toHexString() }, 'janitor: withdrew an unannounced upload');
      removed++;
    }
    for (const upload of await uploads.expired(new Date())) {
      await discardResumableUpload({ db, uploads, quota, broker: deps.broker }, upload);
      if (!upload.completed) {
        log.info({ uploadId: upload._id.toHexString() }, 'janitor: removed an expired upload');
        removed++;
      }
    }
    checkedUpTo = cutoff;
    return removed;
  }

  const passes = createRecurringPass(sweep, {
    intervalMs: Math.min(60_000, abandonAfterMs / 4, deps.resumable.expiryMs / 2),
    log,
    failure: 'janitor pass failed; trying again later',
  });
  return {
    /** Passes on the timer, and one at once. */
    start() {
      passes.start();
      void passes.run();
    },
    stop: passes.stop,
  };
}
