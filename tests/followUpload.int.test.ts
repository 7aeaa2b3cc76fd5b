import { randomBytes, createHash } from 'node:crypto';
import { appendFile, mkdtemp, writeFile, open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Binary, ObjectId } from 'mongodb';
import { beforeAll, describe, expect, it } from 'vitest';
import type { AudioMetadata } from '../lib/stores/audioFiles.js';
import { UploadFailedError, followVideoUpload } from '../lib/stores/followUpload.js';
import {
  AUDIO_BUCKET,
  GRIDFS_CHUNK_SIZE,
  UPLOADS_IN_PROGRESS,
  VIDEO_BUCKET,
  ensureGridFsIndexes,
  readGridFsFile,
} from '../lib/stores/gridfs.js';
import type { UploadInProgress } from '../lib/stores/uploadFiles.js';
import { tailAudioIntoGridFs } from '../worker/tailAudioIntoGridFs.js';
import { useTestDatabases } from './helpers/useTestDatabases.js';

/**
 * The two ends of realtime conversion against the real store: a reader following an upload's
 * chunks as media writes them, and the MP3 stored while ffmpeg writes it. The upload is played
 * here by hand, chunk by chunk, so each step of it can be checked.
 */
describe('following an upload, and storing an MP3 as it grows (real database)', () => {
  const db = useTestDatabases('follow').database('media');

  beforeAll(async () => {
    await ensureGridFsIndexes(db, AUDIO_BUCKET);
  });

  const CHUNK = 1000;
  const markers = () => db.collection<UploadInProgress>(UPLOADS_IN_PROGRESS);
  const writeChunk = (id: ObjectId, n: number, data: Buffer) =>
    db.collection(`${VIDEO_BUCKET}.chunks`).insertOne({ files_id: id, n, data: new Binary(data) });
  const writeFileDocument = (id: ObjectId, length: number) =>
    db
      .collection(`${VIDEO_BUCKET}.files`)
      .insertOne({ _id: id, length, chunkSize: CHUNK, uploadDate: new Date(), filename: 'v' });

  /** Reads `id` as it streams in; `received` grows as bytes come out. */
  function follow(id: ObjectId, staleAfterMs = 60_000) {
    const received: Buffer[] = [];
    const done = (async () => {
      for await (const piece of followVideoUpload(db, id, { staleAfterMs })) {
        received.push(piece as Buffer);
      }
      return Buffer.concat(received);
    })();
    done.catch(() => undefined);
    return { done, bytes: () => received.reduce((sum, piece) => sum + piece.length, 0) };
  }

  it('yields each chunk as it is written and ends at the file document', async () => {
    const id = new ObjectId();
    const file = randomBytes(3 * CHUNK + 300);
    await markers().insertOne({ _id: id, startedAt: new Date(), owner: 'someone' });
    const reader = follow(id);
    await writeChunk(id, 0, file.subarray(0, CHUNK));
    await expect.poll(reader.bytes, { timeout: 5_000 }).toBe(CHUNK);
    await writeChunk(id, 1, file.subarray(CHUNK, 2 * CHUNK));
    await writeChunk(id, 2, file.subarray(2 * CHUNK, 3 * CHUNK));
    await expect.poll(reader.bytes, { timeout: 5_000 }).toBe(3 * CHUNK);
    // Media's last steps: the short last chunk, the file document, then the marker goes.
    await writeChunk(id, 3, file.subarray(3 * CHUNK));
    await writeFileDocument(id, file.length);
    await markers().deleteOne({ _id: id });
    expect((await reader.done).equals(file)).toBe(true);
  });

  it('fails with UploadFailedError when the upload is removed instead of completed', async () => {
    const id = new ObjectId();
    await markers().insertOne({ _id: id, startedAt: new Date(), owner: 'someone' });
    const reader = follow(id);
    await writeChunk(id, 0, randomBytes(CHUNK));
    await expect.poll(reader.bytes, { timeout: 5_000 }).toBe(CHUNK);
    // What removeUploadFile does: the marker dated to the epoch, then the chunks go.
    await markers().updateOne({ _id: id }, { $set: { startedAt: new Date(0) } });
    await expect(reader.done).rejects.toBeInstanceOf(UploadFailedError);
  });

  it('stops waiting for an upload whose media process died (its marker went stale)', async () => {
    const id = new ObjectId();
    await markers().insertOne({ _id: id, startedAt: new Date(), owner: 'someone' });
    const reader = follow(id, 300);
    await expect(reader.done).rejects.toBeInstanceOf(UploadFailedError);
  });

  it('reads a stored file whole without a marker, as readGridFsFile does', async () => {
    const id = new ObjectId();
    const file = randomBytes(2 * CHUNK + 1);
    for (let n = 0; n * CHUNK < file.length; n++) {
      await writeChunk(id, n, file.subarray(n * CHUNK, (n + 1) * CHUNK));
    }
    await writeFileDocument(id, file.length);
    expect((await follow(id).done).equals(file)).toBe(true);
    const viaRange = readGridFsFile(db, VIDEO_BUCKET, {
      _id: id,
      length: file.length,
      chunkSize: CHUNK,
    });
    const pieces: Buffer[] = [];
    for await (const piece of viaRange) pieces.push(piece as Buffer);
    expect(Buffer.concat(pieces).equals(file)).toBe(true);
  });

  describe('tailAudioIntoGridFs', () => {
    const metadata: AudioMetadata = {
      owner: 'someone',
      videoId: 'v',
      conversionId: 'c',
      durationSeconds: 1,
      bitrateKbps: 192,
      sha256: 'x',
    };
    const owned = (stillOwned = true) => ({
      conversionId: 'c',
      stillOwned: () => Promise.resolve(stillOwned),
    });
    const audioChunks = (id: ObjectId) =>
      db.collection(`${AUDIO_BUCKET}.chunks`).countDocuments({ files_id: id });
    const storedAudio = async (id: ObjectId) => {
      const file = await db
        .collection<{ _id: ObjectId; length: number; chunkSize: number }>(`${AUDIO_BUCKET}.files`)
        .findOne({ _id: id });
      if (!file) return null;
      const pieces: Buffer[] = [];
      for await (const piece of readGridFsFile(db, AUDIO_BUCKET, file))
        pieces.push(piece as Buffer);
      return Buffer.concat(pieces);
    };

    it('stores full chunks while the file grows, the first one and the file document last', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'reelflux-tail-'));
      const path = join(dir, 'out.mp3');
      const id = new ObjectId();
      const content = randomBytes(3 * GRIDFS_CHUNK_SIZE + 12_345);
      // What a failed first attempt left at the same path: the tail removes it first.
      await writeFile(path, randomBytes(3 * GRIDFS_CHUNK_SIZE));
      const tail = await tailAudioIntoGridFs(db, id, path, owned());
      await writeFile(path, content.subarray(0, 2 * GRIDFS_CHUNK_SIZE + 10));
      // Chunk 1 is full and goes in; chunk 0 waits for the end; chunk 2 is not full yet.
      await expect.poll(() => audioChunks(id), { timeout: 5_000 }).toBe(1);
      await sleep(300);
      expect(await audioChunks(id)).toBe(1);
      expect(await storedAudio(id)).toBeNull();
      await appendFile(path, content.subarray(2 * GRIDFS_CHUNK_SIZE + 10));
      // The end rewrites the start, as ffmpeg does with its Xing/Info frame.
      const rewritten = Buffer.from(content);
      rewritten.write('Info', 200, 'latin1');
      const handle = await open(path, 'r+');
      await handle.write(rewritten.subarray(0, 1000), 0, 1000, 0);
      await handle.close();
      await tail.finish('out.mp3', metadata);
      const stored = await storedAudio(id);
      expect(stored?.length).toBe(rewritten.length);
      expect(
        createHash('sha256')
          .update(stored ?? '')
          .digest('hex'),
      ).toBe(createHash('sha256').update(rewritten).digest('hex'));
      // The file document carries the sha256 of the MP3 as it ended, not as it was written.
      const document = await db
        .collection<{ metadata: AudioMetadata }>(`${AUDIO_BUCKET}.files`)
        .findOne({ _id: id });
      expect(document?.metadata.sha256).toBe(createHash('sha256').update(rewritten).digest('hex'));
    });

    it('refuses to finish when the file changed past its first chunk after it was stored', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'reelflux-tail-'));
      const path = join(dir, 'out.mp3');
      const id = new ObjectId();
      const tail = await tailAudioIntoGridFs(db, id, path, owned());
      await writeFile(path, randomBytes(2 * GRIDFS_CHUNK_SIZE + 10));
      await expect.poll(() => audioChunks(id), { timeout: 5_000 }).toBe(1);
      const handle = await open(path, 'r+');
      await handle.write(Buffer.from('changed'), 0, 7, GRIDFS_CHUNK_SIZE + 5);
      await handle.close();
      await expect(tail.finish('out.mp3', metadata)).rejects.toThrow(/changed past its first/);
      expect(await storedAudio(id)).toBeNull();
      await tail.discard();
      expect(await audioChunks(id)).toBe(0);
    });

    it('keeps a lost run apart: it cannot finish, and its discard leaves the owner’s MP3 alone', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'reelflux-tail-'));
      const content = randomBytes(2 * GRIDFS_CHUNK_SIZE + 10);
      // Run A froze after storing chunk 1; run B took the conversion over. Each has its own id.
      const [lostId, ownerId] = [new ObjectId(), new ObjectId()];
      const lostPath = join(dir, 'a.mp3');
      const lost = await tailAudioIntoGridFs(db, lostId, lostPath, owned(false));
      await writeFile(lostPath, randomBytes(2 * GRIDFS_CHUNK_SIZE + 10));
      await expect.poll(() => audioChunks(lostId), { timeout: 5_000 }).toBe(1);
      const ownerPath = join(dir, 'b.mp3');
      const owner = await tailAudioIntoGridFs(db, ownerId, ownerPath, owned());
      await writeFile(ownerPath, content);
      await expect.poll(() => audioChunks(ownerId), { timeout: 5_000 }).toBe(1);
      // A wakes up: it may not make its MP3 whole, and its discard takes only its own chunks.
      await expect(lost.finish('a.mp3', metadata)).rejects.toThrow(/Another run owns/);
      expect(await storedAudio(lostId)).toBeNull();
      await lost.discard();
      expect(await audioChunks(lostId)).toBe(0);
      expect(await audioChunks(ownerId)).toBe(1);
      await owner.finish('b.mp3', metadata);
      expect((await storedAudio(ownerId))?.equals(content)).toBe(true);
      // Every chunk says whose conversion it belongs to, for removeMp3sOf.
      expect(
        await db
          .collection(`${AUDIO_BUCKET}.chunks`)
          .countDocuments({ files_id: ownerId, conversionId: 'c' }),
      ).toBe(3);
    });
  });
});
