import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { randomBytes } from 'node:crypto';
import { GridFSBucket, MongoClient, ObjectId } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATION_DONE, startFerretDb } from '../scripts/infrastructure/ensureMongo.js';
import { migrateSqliteStore } from '../scripts/migrateSqliteStore.js';
import { freePort } from '../scripts/spawnStack.js';
import { startFerretDbOnFreshDatabase, type PrivateService } from './helpers/privateServices.js';
import { uniqueName } from './helpers/uniqueName.js';

/**
 * `npm run store:migrate`: a store made on FerretDB's SQLite handler (the earlier local
 * default) is copied into FerretDB on PostgreSQL whole: documents, GridFS bytes and unique
 * indexes, and a second run adds nothing.
 */
describe('store:migrate: a SQLite store into PostgreSQL', () => {
  const database = uniqueName('migrate').toLowerCase();
  const base = mkdtempSync(join(tmpdir(), 'reelflux-migrate-'));
  const storeDir = join(base, 'ferretdb');
  const movedDir = join(base, 'ferretdb-sqlite');
  const video = randomBytes(700_000);
  const videoId = new ObjectId();
  let target: PrivateService;
  let mongo: MongoClient;

  beforeAll(async () => {
    // The old store, written the way the earlier default wrote it.
    mkdirSync(storeDir);
    const sqlite = await startFerretDb(await freePort(), [
      '--handler=sqlite',
      `--sqlite-url=file:${storeDir}/`,
    ]);
    const old = new MongoClient(sqlite.uri);
    try {
      const media = old.db('reelflux_media');
      await media.collection('videos').createIndex({ owner: 1, name: 1 }, { unique: true });
      await media.collection('videos').insertMany([
        { _id: videoId, owner: 'alice', name: 'a.mp4', bytes: video.length },
        { _id: new ObjectId(), owner: 'bob', name: 'b.mp4', bytes: 1 },
      ]);
      const bucket = new GridFSBucket(media, { bucketName: 'videos' });
      await pipeline(Readable.from([video]), bucket.openUploadStreamWithId(videoId, 'a.mp4'));
      await old.db('reelflux_auth').collection('users').insertOne({ email: 'a@example.com' });
    } finally {
      await old.close();
      await sqlite.stop();
    }
    target = await startFerretDbOnFreshDatabase(database);
    mongo = new MongoClient(target.url);
  }, 180_000);
  afterAll(async () => {
    await mongo?.close();
    await target?.dispose();
    rmSync(base, { recursive: true, force: true });
  });

  const migrate = () =>
    migrateSqliteStore({ storeDir, movedDir, env: { MONGODB_URI: target.url }, say: () => {} });

  it('copies documents, GridFS bytes and unique indexes, and moves the old folder aside', async () => {
    const report = await migrate();
    // videos (2), videos.files (1), videos.chunks (3 of 255 KiB), users (1)
    expect(report).toEqual({ collections: 4, copied: 7, alreadyThere: 0 });
    expect(existsSync(storeDir)).toBe(false);
    expect(existsSync(join(movedDir, MIGRATION_DONE))).toBe(true);

    const media = mongo.db('reelflux_media');
    expect(await media.collection('videos').countDocuments()).toBe(2);
    expect(
      await mongo
        .db('reelflux_auth')
        .collection('users')
        .findOne({}, { projection: { _id: 0 } }),
    ).toEqual({
      email: 'a@example.com',
    });
    const copied: Buffer[] = [];
    for await (const chunk of new GridFSBucket(media, { bucketName: 'videos' }).openDownloadStream(
      videoId,
    )) {
      copied.push(chunk as Buffer);
    }
    expect(Buffer.concat(copied).equals(video)).toBe(true);
    await expect(
      media.collection('videos').insertOne({ owner: 'alice', name: 'a.mp4' }),
    ).rejects.toMatchObject({ code: 11000 });
  });

  it('adds nothing when run again', async () => {
    expect(await migrate()).toEqual({ collections: 4, copied: 0, alreadyThere: 7 });
    expect(await mongo.db('reelflux_media').collection('videos').countDocuments()).toBe(2);
  });

  it('stops on a document another unique index refuses, instead of counting it as copied', async () => {
    const videos = mongo.db('reelflux_media').collection('videos');
    // Bob's video taken out, and its (owner, name) given to a new document in the new store.
    const bob = await videos.findOneAndDelete({ owner: 'bob' });
    await videos.insertOne({ _id: new ObjectId(), owner: 'bob', name: 'b.mp4' });
    await expect(migrate()).rejects.toThrow(new RegExp(`${String(bob?._id)} was refused`));
  });
});
