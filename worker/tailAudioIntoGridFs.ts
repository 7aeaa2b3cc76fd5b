import { createHash } from 'node:crypto';
import { open, rm, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Db, ObjectId } from 'mongodb';
import { createMp3Writer, type AudioMetadata } from '../lib/stores/audioFiles.js';
import { GRIDFS_CHUNK_SIZE } from '../lib/stores/gridfs.js';

/** How often the growing MP3 is looked at for chunks to store. */
const TAIL_INTERVAL_MS = 100;

/** The run lost its conversion (cancelled, taken over) before its MP3 was made whole. */
export class RunLostError extends Error {
  override name = 'RunLostError';
}

export interface AudioTail {
  /**
   * After ffmpeg exited and its MP3 was checked: stores what is left, checks that the run still
   * owns the conversion, then stores the first chunk and the file document, which makes the MP3
   * whole, with `metadata` and the whole MP3's sha256 (read here anyway). Throws if a stored
   * chunk no longer matches the file (ffmpeg rewrote past the first chunk), or RunLostError.
   */
  finish(filename: string, metadata: Omit<AudioMetadata, 'sha256'>): Promise<void>;
  /** Stops and removes what it stored. */
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
 * `id` is this run's own (see Mp3Chunk), so nothing another run does can touch it. Removes
 * whatever `path` holds first (a fallback reuses the path of a realtime attempt).
 */
export async function tailAudioIntoGridFs(
  db: Db,
  id: ObjectId,
  path: string,
  run: { conversionId: string; stillOwned: () => Promise<boolean> },
): Promise<AudioTail> {
  await rm(path, { force: true });
  const mp3 = createMp3Writer(db, id, run.conversionId);
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

  /** Stores every full chunk past the first (or, `final`, every chunk past it left). */
  const storeReady = async (final: boolean) => {
    const size = await sizeNow();
    while ((next + 1) * GRIDFS_CHUNK_SIZE <= size || (final && next * GRIDFS_CHUNK_SIZE < size)) {
      const offset = next * GRIDFS_CHUNK_SIZE;
      const data = await readAt(offset, Math.min(GRIDFS_CHUNK_SIZE, size - offset));
      await mp3.storeChunk(next, data);
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
      const first = await readAt(0, Math.min(GRIDFS_CHUNK_SIZE, length));
      // One read of the file: the part past chunk 0, to compare with what was stored, and the
      // whole, for the MP3's sha256.
      const rest = createHash('sha256');
      const whole = createHash('sha256').update(first);
      const file = await open(path, 'r');
      try {
        for await (const piece of file.createReadStream({ start: GRIDFS_CHUNK_SIZE })) {
          rest.update(piece as Buffer);
          whole.update(piece as Buffer);
        }
      } finally {
        await file.close();
      }
      if (rest.digest('hex') !== stored.digest('hex')) {
        throw new Error('The MP3 changed past its first chunk after that part was stored');
      }
      // A lost run makes no MP3 whole; the owner's, under its own id, is untouched either way.
      if (!(await run.stillOwned())) throw new RunLostError('Another run owns the conversion now');
      await mp3.storeChunk(0, first);
      await mp3.makeWhole({
        length,
        filename,
        metadata: { ...metadata, sha256: whole.digest('hex') },
      });
    },
    async discard() {
      stop.abort();
      await loop.catch(() => undefined);
      await mp3.discard();
    },
  };
}
