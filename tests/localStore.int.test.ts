import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GridFSBucket, MongoClient, ObjectId } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { psql } from '../scripts/infrastructure/localPostgres.js';
import { startFerretDbOnFreshDatabase, type PrivateService } from './helpers/privateServices.js';
import { uniqueName } from './helpers/uniqueName.js';

/**
 * The local store on FerretDB's PostgreSQL handler (scripts/ferretdb/containmentIndexes.go):
 * FerretDB sends a GridFS chunk lookup as `_jsonb->$1 @> $2`, which its own btree
 * indexes cannot serve. The wrapper adds a GIN index beside each of FerretDB's and keeps
 * custom plans, so the lookup stays an index scan after many executions; and sets the chunk
 * table's storage to EXTERNAL (scripts/ferretdb/chunkStorage.go). Runs on the
 * PostgreSQL this machine kind has on 127.0.0.1:5432.
 */
describe('local store on PostgreSQL: GridFS chunk reads use an index', () => {
  const database = uniqueName('pgstore').toLowerCase();
  let ferretdb: PrivateService;
  let mongo: MongoClient;

  beforeAll(async () => {
    ferretdb = await startFerretDbOnFreshDatabase(database);
    mongo = new MongoClient(ferretdb.url);
  }, 180_000);
  afterAll(async () => {
    await mongo?.close();
    await ferretdb?.dispose();
  });

  it('plans the chunk lookup FerretDB sends as an index scan, also after many executions', async () => {
    const bucket = new GridFSBucket(mongo.db('media'), {
      bucketName: 'videos',
      chunkSizeBytes: 1024,
    });
    const ids: ObjectId[] = [];
    for (let file = 0; file < 10; file++) {
      const id = new ObjectId();
      ids.push(id);
      await pipeline(
        Readable.from([Buffer.alloc(40 * 1024, file)]),
        bucket.openUploadStreamWithId(id, 'f'),
      );
    }
    // Read through the driver as media does, so FerretDB prepares and repeats its own query.
    for (let i = 0; i < 8; i++) {
      const chunk = await mongo
        .db('media')
        .collection('videos.chunks')
        .findOne({ files_id: ids[3], n: i });
      expect(chunk?.n).toBe(i);
    }

    const table = psql(
      database,
      `SELECT _jsonb->>'table' FROM media._ferretdb_database_metadata WHERE _jsonb->>'_id' = 'videos.chunks';`,
    ).trim();
    expect(table).not.toBe('');
    // The wrapper adds its index shortly after FerretDB made the GridFS one.
    let indexes = '';
    for (let tries = 0; tries < 50 && !indexes.includes('reelflux_gin_'); tries++) {
      indexes = psql(
        database,
        `SELECT indexdef FROM pg_indexes WHERE schemaname = 'media' AND tablename = '${table}';`,
      );
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    // And the chunk table stores its documents out of line without trying to compress them.
    expect(
      psql(
        database,
        `SELECT a.attstorage FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
           JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'media' AND c.relname = '${table}' AND a.attname = '_jsonb';`,
      ).trim(),
    ).toBe('e');
    expect(indexes).toMatch(
      /reelflux_gin_\w+ ON media\.\S+ USING gin \(\(\(_jsonb -> 'files_id'::text\)\) jsonb_path_ops, \(\(_jsonb -> 'n'::text\)\) jsonb_path_ops\)/,
    );

    // The query as FerretDB sends it, fields and values all parameters (query.go), executed
    // past the point where PostgreSQL would switch to a generic plan, in which `_jsonb->$1`
    // no longer matches the index expression; in the database's own settings.
    const key = JSON.stringify(ids[3]?.toHexString());
    const query = `PREPARE chunk(text, jsonb, text, jsonb) AS
       SELECT _jsonb FROM media."${table}" WHERE _jsonb->$1 @> $2 AND _jsonb->$3 @> $4;`;
    const plan = psql(
      database,
      `${query}
       ${Array.from({ length: 8 }, () => `EXECUTE chunk('files_id', '${key}', 'n', '5');`).join('\n')}
       EXPLAIN ANALYZE EXECUTE chunk('files_id', '${key}', 'n', '5');`,
    );
    expect(plan).toMatch(/rows=1 loops=1/);
    expect(plan).toMatch(/Bitmap Index Scan on reelflux_gin_/);
    // Why the wrapper sets the database to custom plans: a generic plan cannot use the index.
    expect(psql(database, 'SHOW plan_cache_mode;').trim()).toBe('force_custom_plan');
    expect(psql(database, 'SHOW enable_seqscan;').trim()).toBe('off');
    const generic = psql(
      database,
      `SET plan_cache_mode = force_generic_plan; ${query}
       EXPLAIN EXECUTE chunk('files_id', '${key}', 'n', '5');`,
    );
    expect(generic).not.toMatch(/Index Scan on reelflux_gin_/);
  });
});
