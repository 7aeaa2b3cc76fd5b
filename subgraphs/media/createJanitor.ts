import { ObjectId, type Db } from 'mongodb';
import type { Broker } from '../../lib/broker/createBroker.js';
import { VIDEO_BUCKET, removeGridFsFile } from '../../lib/stores/gridfs.js';
import type { Logger } from '../../lib/platform/logger.js';
import type { VideoStore } from './createVideoStore.js';
import { withdrawVideo } from './withdrawVideo.js';

/**
 * Removes what a crash or a database outage left half-done in media, once it cannot belong to
 * anything still running. Nothing unfinished can be older than the upload time limit: an upload
 * streaming now started less than that ago. Twice the limit leaves room for clocks and restarts.
 *
 * - chunks of a video file that never got its file document (the upload died mid-stream, or a
 *   removal died halfway);
 * - a video file without its record (stored, then the record could not be written);
 * - a record whose upload was never announced (the client was told it failed).
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
}) {
  const { db, log } = deps;
  const abandonAfterMs = 2 * deps.uploadTimeoutMs;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<number> | undefined;
  // Each pass looks only at what aged past the cutoff since the last one (with one period of
  // overlap); the first pass after a start looks at everything.
  let checkedUpTo = new Date(0);

  async function sweep(): Promise<number> {
    const cutoff = new Date(Date.now() - abandonAfterMs);
    const since = new Date(Math.max(0, checkedUpTo.getTime() - abandonAfterMs));
    const idAt = (date: Date) => ObjectId.createFromTime(Math.floor(date.getTime() / 1000));
    let removed = 0;

    // File ids are ObjectIds minted when the upload began, so their time says how old it is.
    const chunkOwners = await db
      .collection(`${VIDEO_BUCKET}.chunks`)
      .distinct('files_id', { files_id: { $gte: idAt(since), $lt: idAt(cutoff) } });
    for (const id of chunkOwners as ObjectId[]) {
      const file = await db.collection(`${VIDEO_BUCKET}.files`).findOne({ _id: id });
      if (file) continue;
      await db.collection(`${VIDEO_BUCKET}.chunks`).deleteMany({ files_id: id });
      log.warn({ fileId: id.toHexString() }, 'janitor: removed chunks of an unfinished upload');
      removed++;
    }

    const files = await db
      .collection<{ _id: ObjectId }>(`${VIDEO_BUCKET}.files`)
      .find({ uploadDate: { $gte: since, $lt: cutoff } }, { projection: { _id: 1 } })
      .toArray();
    for (const { _id } of files) {
      if (await db.collection('videos').findOne({ _id }, { projection: { _id: 1 } })) continue;
      await removeGridFsFile(db, VIDEO_BUCKET, _id);
      log.warn({ fileId: _id.toHexString() }, 'janitor: removed a video file without a record');
      removed++;
    }

    for (const record of await deps.store.unannounced(cutoff)) {
      await withdrawVideo(deps, record, true);
      log.warn({ videoId: record._id.toHexString() }, 'janitor: withdrew an unannounced upload');
      removed++;
    }
    checkedUpTo = cutoff;
    return removed;
  }

  /** One pass at a time; a failing pass (database down) is logged and tried again later. */
  const pass = () => {
    running ??= sweep()
      .catch((error: unknown) => {
        log.warn({ err: error }, 'janitor pass failed; trying again later');
        return 0;
      })
      .finally(() => (running = undefined));
    return running;
  };

  return {
    start() {
      timer = setInterval(() => void pass(), Math.min(60_000, abandonAfterMs / 4));
      timer.unref();
      void pass();
    },
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
