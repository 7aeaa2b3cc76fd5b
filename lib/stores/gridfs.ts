import { Readable } from 'node:stream';
import type { Binary, Db, ObjectId } from 'mongodb';

/** Media's GridFS buckets: uploaded videos, and the MP3s workers write. */
export const VIDEO_BUCKET = 'videos';
export const AUDIO_BUCKET = 'audio';

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
  // which the media janitor removes; the other order would leave a file that cannot be read.
  await db.collection(`${bucketName}.files`).deleteOne({ _id: fileId });
  await db.collection(`${bucketName}.chunks`).deleteMany({ files_id: fileId });
}

/** Chunks per cursor batch: 16 × 255 KiB ≈ 4 MiB in memory at most, per reader. */
const CHUNKS_PER_BATCH = 16;

/**
 * Streams a GridFS file, or the byte range `start`–`end` (inclusive) of it, with bounded
 * memory. The driver's own download stream leaves batch sizes to the server; MongoDB caps them
 * at 16 MiB, but FerretDB answers a getMore with every remaining chunk (2 GB in one reply for a
 * 2 GB file). One cursor with an explicit batch size keeps both at a few MiB.
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
  async function* generate() {
    if (file.length === 0 || end < start) return;
    const first = Math.floor(start / file.chunkSize);
    const last = Math.floor(end / file.chunkSize);
    const cursor = chunks
      .find({ files_id: file._id, n: { $gte: first, $lte: last } })
      .sort({ n: 1 })
      .batchSize(CHUNKS_PER_BATCH);
    let expected = first;
    try {
      for await (const chunk of cursor) {
        if (chunk.n !== expected)
          throw new Error(`GridFS file ${file._id.toHexString()} is missing chunk ${expected}`);
        expected++;
        const offset = chunk.n * file.chunkSize;
        const data = Buffer.from(chunk.data.buffer);
        yield data.subarray(Math.max(0, start - offset), Math.min(data.length, end - offset + 1));
      }
    } finally {
      await cursor.close();
    }
    if (expected !== last + 1)
      throw new Error(`GridFS file ${file._id.toHexString()} ends before chunk ${last}`);
  }
  return Readable.from(generate(), { objectMode: false });
}
