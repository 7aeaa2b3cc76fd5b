import { createHash } from 'node:crypto';
import { open, rm, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { Binary, type Db, type ObjectId } from 'mongodb';
import { isDuplicateKeyError } from '../lib/platform/mongo.js';
import { AUDIO_BUCKET, GRIDFS_CHUNK_SIZE, type AudioMetadata } from '../lib/stores/gridfs.js';

/** How often the growing MP3 is looked at for chunks to store. */
const TAIL_INTERVAL_MS = 100;

/** The run lost its conversion (cancelled, taken over) before its MP3 was made whole. */
export class RunLostError extends Error {
  override name = 'RunLostError';
}

export interface AudioTail {
  /**
   * After ffmpeg exited and its MP3 was checked: stores what is left, checks that the run still
   * owns the conversion, removes any other run's chunks, then stores the first chunk and the
   * file document, which makes the MP3 whole. Throws if a stored chunk no longer matches the
   * file (ffmpeg rewrote past the first chunk), or RunLostError.
   */
  finish(filename: string, metadata: AudioMetadata): Promise<void>;
  /** Stops and removes this run's chunks (never another run's). */
  discard(): Promise<void>;
}

/**
 * Stores an MP3 in GridFS while ffmpeg writes it, so that once ffmpeg exits only its last
 * chunk is left to store. ffmpeg writes to a seekable file, not a pipe, because it goes back to
 * the start at the end to fill in the Xing/Info frame (duration and seek table, which players
 * need for VBR). That frame sits in the first chunk, just after the ID3 tag: so chunk 0 is
 * stored last, and chunks 1… as soon as each is full. Nobody can read the MP3 before its file
 * document exists, and that is written after the MP3 was checked.
 *
 * The MP3's id is the conversion's, so a run that lost its conversion (frozen, then taken over)
 * could still be writing beside the run that owns it: each chunk carries its `runId`, a run
 * removes only its own, and the owner clears the others' before it makes the file whole.
 * Removes whatever `path` holds first (a fallback reuses the path of a realtime attempt).
 */
export async function tailAudioIntoGridFs(
  db: Db,
  id: ObjectId,
  path: string,
  run: { runId: string; stillOwned: () => Promise<boolean> },
): Promise<AudioTail> {
  await rm(path, { force: true });
  const chunks = db.collection<{ files_id: ObjectId; n: number; data: Binary; runId: string }>(
    `${AUDIO_BUCKET}.chunks`,
  );
  const { runId } = run;
  const stored = createHash('sha256');
  let next = 1;
  const stop = new AbortController();

  const readAt = async (position: number, length: number) => {
    const file = await open(path, 'r');
    try {
      const buffer = Buffer.alloc(length);
      const { bytesRead } = await file.read(buffer, 0, length, position);
      return buffer.subarray(0, bytesRead);
    } finally {
      await file.close();
    }
  };
  const sizeNow = () =>
    stat(path).then(
      (s) => s.size,
      () => 0,
    );
  /** A chunk of this run; one a lost run left at the same place gives way. */
  const insertChunk = async (n: number, data: Buffer) => {
    const chunk = { files_id: id, n, data: new Binary(data), runId };
    try {
      await chunks.insertOne(chunk);
    } catch (error) {
      if (!isDuplicateKeyError(error)) throw error;
      await chunks.deleteOne({ files_id: id, n, runId: { $ne: runId } });
      await chunks.insertOne(chunk);
    }
  };

  /** Stores every full chunk past the first (or, `final`, every chunk past it left). */
  const storeReady = async (final: boolean) => {
    const size = await sizeNow();
    while ((next + 1) * GRIDFS_CHUNK_SIZE <= size || (final && next * GRIDFS_CHUNK_SIZE < size)) {
      const offset = next * GRIDFS_CHUNK_SIZE;
      const data = await readAt(offset, Math.min(GRIDFS_CHUNK_SIZE, size - offset));
      await insertChunk(next, data);
      stored.update(data);
      next++;
    }
    return size;
  };

  const loop = (async () => {
    while (!stop.signal.aborted) {
      await storeReady(false);
      await sleep(TAIL_INTERVAL_MS, undefined, { signal: stop.signal }).catch(() => undefined);
    }
  })();
  // Its error (the database away) is rethrown by finish; discard does not need it.
  loop.catch(() => undefined);

  return {
    async finish(filename, metadata) {
      stop.abort();
      await loop;
      const length = await storeReady(true);
      const whole = createHash('sha256');
      const file = await open(path, 'r');
      try {
        for await (const piece of file.createReadStream({ start: GRIDFS_CHUNK_SIZE })) {
          whole.update(piece as Buffer);
        }
      } finally {
        await file.close();
      }
      if (whole.digest('hex') !== stored.digest('hex')) {
        throw new Error('The MP3 changed past its first chunk after that part was stored');
      }
      if (!(await run.stillOwned())) throw new RunLostError('Another run owns the conversion now');
      await chunks.deleteMany({ files_id: id, runId: { $ne: runId } });
      await insertChunk(0, await readAt(0, Math.min(GRIDFS_CHUNK_SIZE, length)));
      const expected = Math.ceil(length / GRIDFS_CHUNK_SIZE);
      const present = await chunks.countDocuments({ files_id: id, runId });
      if (present !== expected) {
        throw new Error(`The MP3 has ${present} of its ${expected} chunks stored`);
      }
      await db.collection(`${AUDIO_BUCKET}.files`).replaceOne(
        { _id: id },
        {
          length,
          chunkSize: GRIDFS_CHUNK_SIZE,
          uploadDate: new Date(),
          filename,
          metadata,
        },
        { upsert: true },
      );
    },
    async discard() {
      stop.abort();
      await loop.catch(() => undefined);
      await chunks.deleteMany({ files_id: id, runId });
    },
  };
}
