import { Readable } from 'node:stream';
import type { Binary, Db, ObjectId } from 'mongodb';

/** Media's GridFS buckets: uploaded videos, and the MP3s workers write. */
export const VIDEO_BUCKET = 'videos';
export const AUDIO_BUCKET = 'audio';

/**
 * One document per upload streaming into media's video bucket, `{_id: fileId, startedAt}`,
 * written before its first chunk and removed once its file document is complete (and, dated to
 * the epoch, around each removal of a video file). Media's janitor and fsck find uploads and
 * removals that died half-way here. Finding them from the chunks instead would read the whole
 * chunks collection each pass (on FerretDB, whose range filters are not pushed down to its
 * store, 15 s with 1 GB stored).
 */
export const UPLOADS_IN_PROGRESS = 'uploads_in_progress';

export interface UploadInProgress {
  _id: ObjectId;
  startedAt: Date;
}

/** What a worker writes into `audio.files` metadata beside the MP3. */
export interface AudioMetadata {
  owner: string;
  videoId: string;
  conversionId: string;
  durationSeconds: number;
  bitrateKbps: number;
  sha256: string;
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
  // caller that must see the removal through marks it first (media's removeVideoFile).
  await db.collection(`${bucketName}.files`).deleteOne({ _id: fileId });
  await db.collection(`${bucketName}.chunks`).deleteMany({ files_id: fileId });
}

/** Chunks asked for ahead of the one being sent (each reader holds a few chunks, a few MiB). */
const READ_AHEAD = 4;

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
  const chunks = db.collection<{ files_id: ObjectId; n: number; data: Binary }>(
    `${bucketName}.chunks`,
  );
  const start = range?.start ?? 0;
  const end = range?.end ?? file.length - 1;
  const lookUp = (n: number) => {
    const found = chunks.findOne({ files_id: file._id, n }, { projection: { _id: 0, data: 1 } });
    // Handled when awaited; this keeps a lookup that fails after the reader stopped from
    // becoming an unhandled rejection.
    found.catch(() => undefined);
    return found;
  };
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
