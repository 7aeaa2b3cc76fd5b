import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GridFSBucket, ObjectId } from 'mongodb';
import { describe, expect, it } from 'vitest';
import type { Broker } from '../lib/broker/createBroker.js';
import { createLogger } from '../lib/platform/logger.js';
import { UPLOADS_IN_PROGRESS, VIDEO_BUCKET } from '../lib/stores/gridfs.js';
import type { UploadInProgress } from '../lib/stores/uploadFiles.js';
import { createJanitor } from '../subgraphs/media/createJanitor.js';
import { createResumableUploads } from '../subgraphs/media/createResumableUploads.js';
import { createStorageQuota } from '../lib/stores/storageQuota.js';
import { createVideoStore } from '../subgraphs/media/createVideoStore.js';
import { storeUpload } from '../subgraphs/media/storeUpload.js';
import { useTestDatabases } from './helpers/useTestDatabases.js';

/**
 * Media's janitor against the real database: an upload that died mid-stream, or a removal cut
 * off half-way, is found by its marker in `uploads_in_progress` once it is older than twice the
 * upload limit, and only then; an upload writes that marker before its first chunk.
 */
describe('media janitor (real database)', () => {
  const db = useTestDatabases('janitor').database('media');
  const UPLOAD_TIMEOUT_MS = 1_000;

  /** One janitor pass: start() runs one at once, stop() waits for it. */
  const onePass = async (
    publishEvent: (event: unknown) => Promise<void> = () =>
      Promise.reject(new Error('no record here is unannounced')),
  ) => {
    const broker = { publishEvent } as unknown as Broker;
    const janitor = createJanitor({
      db,
      store: await createVideoStore(db),
      broker,
      log: createLogger('janitor-test', 'silent'),
      uploadTimeoutMs: UPLOAD_TIMEOUT_MS,
      resumable: {
        uploads: await createResumableUploads(db),
        quota: await createStorageQuota(db, 2 ** 40),
        expiryMs: 60_000,
      },
    });
    janitor.start();
    await janitor.stop();
  };
  const secondsAgo = (seconds: number) => new Date(Date.now() - seconds * 1000);
  const markers = () => db.collection<UploadInProgress>(UPLOADS_IN_PROGRESS);
  const chunkCount = (id: ObjectId) =>
    db.collection(`${VIDEO_BUCKET}.chunks`).countDocuments({ files_id: id });
  /** Chunks of `id`, as an upload cut off before its file document leaves them. */
  const halfUpload = async (id: ObjectId, startedAt: Date) => {
    await markers().insertOne({ _id: id, startedAt });
    await db
      .collection(`${VIDEO_BUCKET}.chunks`)
      .insertMany([0, 1, 2].map((n) => ({ files_id: id, n, data: Buffer.alloc(10) })));
  };

  it('removes the chunks and marker of an upload that died, and leaves one still in time alone', async () => {
    const died = new ObjectId();
    const streaming = new ObjectId();
    await halfUpload(died, secondsAgo(10));
    await halfUpload(streaming, new Date());

    await onePass();

    expect(await chunkCount(died)).toBe(0);
    expect(await markers().countDocuments({ _id: died })).toBe(0);
    expect(await chunkCount(streaming)).toBe(3);
    expect(await markers().countDocuments({ _id: streaming })).toBe(1);
  });

  it('announces the end of a dead upload that had an owner (its start may have been announced), then removes it', async () => {
    const id = new ObjectId();
    await halfUpload(id, secondsAgo(10));
    await markers().updateOne({ _id: id }, { $set: { owner: 'uploader' } });

    // The broker refuses: everything stays for the next pass, marker included.
    await onePass(() => Promise.reject(new Error('broker away')));
    expect(await chunkCount(id)).toBe(3);
    expect(await markers().countDocuments({ _id: id })).toBe(1);

    const sent: unknown[] = [];
    await onePass(async (event) => {
      sent.push(event);
    });
    expect(sent).toEqual([
      { type: 'video.deleted', version: 1, videoId: id.toHexString(), ownerId: 'uploader' },
    ]);
    expect(await chunkCount(id)).toBe(0);
    expect(await markers().countDocuments({ _id: id })).toBe(0);
  });

  it('finishes a removal cut off after the file document, whose marker is dated to the epoch', async () => {
    const id = new ObjectId();
    await halfUpload(id, new Date(0));

    await onePass();

    expect(await chunkCount(id)).toBe(0);
    expect(await markers().countDocuments({ _id: id })).toBe(0);
  });

  it('marks an upload while it streams, and leaves no marker once it is stored', async () => {
    let release = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    const mp4Head = Buffer.from(
      '000000206674797069736f6d0000020069736f6d69736f32617663316d703431',
      'hex',
    );
    const source = Readable.from(
      (async function* () {
        yield Buffer.concat([mp4Head, Buffer.alloc(5000)]);
        await held;
        yield Buffer.alloc(5000);
      })(),
    );
    const before = await markers().countDocuments();
    const storing = storeUpload(db, source, {
      fileId: new ObjectId(),
      filename: 'marked.mp4',
      ownerId: 'someone',
      maxBytes: 1_000_000,
    });
    const deadline = Date.now() + 5_000;
    while ((await markers().countDocuments()) === before && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(await markers().countDocuments()).toBe(before + 1);
    release();
    const stored = await storing;
    expect(stored.bytes).toBe(mp4Head.length + 10_000);
    expect(await markers().countDocuments({ _id: stored.fileId })).toBe(0);
    expect(await markers().countDocuments()).toBe(before);
  });

  it('drops a marker that outlived its whole file, and keeps the file', async () => {
    const id = new ObjectId();
    await markers().insertOne({ _id: id, startedAt: secondsAgo(10) });
    const bytes = Buffer.alloc(1000, 7);
    await pipeline(
      Readable.from([bytes]),
      new GridFSBucket(db, { bucketName: VIDEO_BUCKET }).openUploadStreamWithId(id, 'kept.mp4'),
    );
    await db.collection('videos').insertOne({ _id: id, owner: 'someone', announced: true });

    await onePass();

    expect(await markers().countDocuments({ _id: id })).toBe(0);
    expect(await chunkCount(id)).toBe(1);
    expect(await db.collection(`${VIDEO_BUCKET}.files`).countDocuments({ _id: id })).toBe(1);
  });
});
