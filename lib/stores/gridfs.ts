import { Readable } from 'node:stream';
import type { Binary, Db, ObjectId } from 'mongodb';

/**
 * Media's store by name, and the chunk-level GridFS mechanics its file modules share: who
 * writes and reads what is in uploadFiles.ts (media's side of the uploads), followUpload.ts
 * (the workers' side) and audioFiles.ts (the MP3s).
 */

export { UploadFailedError } from './UploadFailedError.js';

/** Media's GridFS buckets: uploaded videos, and the MP3s workers write. */
export const VIDEO_BUCKET = 'videos';
export const AUDIO_BUCKET = 'audio';

/**
 * The upload markers of the video bucket. The protocol is lib/stores/uploadMarkers.ts's, and
 * only the two sides of the upload files use it (uploadFiles.ts, followUpload.ts).
 */
export const UPLOADS_IN_PROGRESS = 'uploads_in_progress';

/** Media's video records (`videos` in media's database). */
export const VIDEO_RECORDS = 'videos';

/** GridFS's default chunk size (255 KiB), which media's uploads and the worker's MP3s use. */
export const GRIDFS_CHUNK_SIZE = 255 * 1024;

/**
 * The indexes GridFS readers rely on, as the driver makes them on a bucket's first upload
 * (same keys and names, so either may come first): chunks by `{files_id, n}`, unique, which
 * every chunk lookup uses; files by name and date. Writers that insert chunks themselves (the
 * worker storing an MP3 as it grows) never pass through the driver's upload stream, so they
 * make sure of these at start: without them, each chunk lookup scans the bucket.
 */
export async function ensureGridFsIndexes(db: Db, bucketName: string): Promise<void> {
  await db
    .collection(`${bucketName}.chunks`)
    .createIndex({ files_id: 1, n: 1 }, { unique: true, name: 'files_id_1_n_1' });
  await db
    .collection(`${bucketName}.files`)
    .createIndex({ filename: 1, uploadDate: 1 }, { name: 'filename_1_uploadDate_1' });
}

/**
 * Deletes a GridFS file whole or in part: its chunks, and its file document if it got that
 * far. An aborted upload leaves chunks without a file document, which bucket.delete() misses.
 */
export async function removeGridFsFile(
  db: Db,
  bucketName: string,
  fileId: ObjectId,
): Promise<void> {
  // The file document first: interrupted after it, what is left is chunks without a file,
  // which nobody can read; the other order would leave a file that cannot be read whole. A
  // caller that must see the removal through marks it first (removeUploadFile).
  await db.collection(`${bucketName}.files`).deleteOne({ _id: fileId });
  await db.collection(`${bucketName}.chunks`).deleteMany({ files_id: fileId });
}

/** One chunk's data by `{files_id, n}`, or null while it is not (yet) there. */
export function chunkLookup(db: Db, bucketName: string, fileId: ObjectId) {
  const chunks = db.collection<{ files_id: ObjectId; n: number; data: Binary }>(
    `${bucketName}.chunks`,
  );
  return (n: number) => {
    const found = chunks.findOne({ files_id: fileId, n }, { projection: { _id: 0, data: 1 } });
    // Handled when awaited; this keeps a lookup that fails after the reader stopped from
    // becoming an unhandled rejection.
    found.catch(() => undefined);
    return found;
  };
}

/** Chunks asked for ahead of the one being sent (each reader holds a few chunks, a few MiB). */
export const READ_AHEAD = 4;

/**
 * Streams a GridFS file, or the byte range `start`–`end` (inclusive) of it, with bounded
 * memory, one chunk at a time by `{files_id, n}` with a few lookups in flight.
 *
 * Why point lookups and not one cursor over `n: {$gte, $lte}` sorted by `n`: on MongoDB both
 * use the `{files_id, n}` index, but FerretDB pushes only equality down to its store. A range
 * cursor there fetches every chunk of the file and sorts them in memory before the first byte,
 * so a 1 MiB Range of a 50 MB file cost as much as the whole file (770 ms against 1.15 s,
 * `npm run bench:store`); each point lookup is one indexed row. The driver's own download
 * stream is no better: it leaves batch sizes to the server, and FerretDB answers a getMore
 * with every remaining chunk (2 GB in one reply for a 2 GB file).
 */
export function readGridFsFile(
  db: Db,
  bucketName: string,
  file: { _id: ObjectId; length: number; chunkSize: number },
  range?: { start: number; end: number },
): Readable {
  const start = range?.start ?? 0;
  const end = range?.end ?? file.length - 1;
  const lookUp = chunkLookup(db, bucketName, file._id);
  async function* generate() {
    if (file.length === 0 || end < start) return;
    const first = Math.floor(start / file.chunkSize);
    const last = Math.floor(end / file.chunkSize);
    const inFlight: ReturnType<typeof lookUp>[] = [];
    let next = first;
    for (let n = first; n <= last; n++) {
      while (next <= last && inFlight.length < READ_AHEAD) inFlight.push(lookUp(next++));
      const chunk = await inFlight.shift();
      if (!chunk) {
        throw new Error(`GridFS file ${file._id.toHexString()} is missing chunk ${n}`);
      }
      const offset = n * file.chunkSize;
      const data = Buffer.from(chunk.data.buffer);
      yield data.subarray(Math.max(0, start - offset), Math.min(data.length, end - offset + 1));
    }
  }
  return Readable.from(generate(), { objectMode: false });
}
