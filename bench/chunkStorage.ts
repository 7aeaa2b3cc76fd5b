import { randomBytes } from 'node:crypto';
import { cpus, totalmem } from 'node:os';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GridFSBucket, MongoClient, ObjectId, type Db } from 'mongodb';
import { buildFerretDb } from '../scripts/infrastructure/ensureMongo.js';
import { psql } from '../scripts/infrastructure/localPostgres.js';
import { startFerretDbOnFreshDatabase } from '../tests/helpers/privateServices.js';

/**
 * `npm run bench:chunk-storage`: what the FerretDB wrapper's EXTERNAL storage for GridFS chunk
 * tables (scripts/ferretdb/chunkStorage.go) does to writes and reads through the driver, against
 * PostgreSQL's default (EXTENDED, which first tries to compress each chunk) in the same run and
 * the same database. Two buckets; the baseline's chunk table is set back to EXTENDED once the
 * wrapper has set it, and the two are measured in turn, ROUNDS times each, medians reported.
 * The bytes are random, as compressed media is to PostgreSQL.
 */
const MB = 2 ** 20;
const FILE_MB = Number(process.env.BENCH_CHUNK_STORAGE_MB ?? 100);
const ROUNDS = Number(process.env.BENCH_CHUNK_STORAGE_ROUNDS ?? 3);
const data = randomBytes(FILE_MB * MB);

const seconds = async (work: () => Promise<unknown>) => {
  const start = performance.now();
  await work();
  return (performance.now() - start) / 1000;
};
const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1] ?? 0;

/** The storage of a bucket's chunk table, as PostgreSQL has it: 'x' extended, 'e' external. */
function storageOf(database: string, bucket: string): string {
  return psql(
    database,
    `SELECT a.attstorage FROM bench._ferretdb_database_metadata m
       JOIN pg_class c ON c.relname = m._jsonb->>'table'
       JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'bench'
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = '_jsonb'
     WHERE m._jsonb->>'_id' = '${bucket}.chunks';`,
  ).trim();
}

/** A bucket with its chunk table made (GridFS makes its indexes at the first write). */
async function openBucket(db: Db, name: string): Promise<GridFSBucket> {
  const bucket = new GridFSBucket(db, { bucketName: name });
  await pipeline(Readable.from([Buffer.alloc(1)]), bucket.openUploadStream('first'));
  return bucket;
}

async function until(check: () => boolean, what: string): Promise<void> {
  for (let tries = 0; tries < 100; tries++) {
    if (check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

buildFerretDb((line) => console.log(line));
const store = await startFerretDbOnFreshDatabase(`reelflux_bench_chunks_${process.pid}`);
const client = new MongoClient(store.url);
try {
  const db = client.db('bench');
  const buckets = {
    extended: await openBucket(db, 'extended'),
    external: await openBucket(db, 'external'),
  };
  await until(() => storageOf(store.database, 'extended') === 'e', 'the wrapper to set EXTERNAL');
  const table = psql(
    store.database,
    `SELECT _jsonb->>'table' FROM bench._ferretdb_database_metadata WHERE _jsonb->>'_id' = 'extended.chunks';`,
  ).trim();
  psql(store.database, `ALTER TABLE bench."${table}" ALTER COLUMN _jsonb SET STORAGE EXTENDED;`);
  if (storageOf(store.database, 'extended') !== 'x')
    throw new Error('the baseline is not EXTENDED');

  const runs = {
    extended: { up: [] as number[], down: [] as number[] },
    external: { up: [] as number[], down: [] as number[] },
  };
  for (let round = 0; round < ROUNDS; round++) {
    for (const kind of ['extended', 'external'] as const) {
      const bucket = buckets[kind];
      const id = new ObjectId();
      runs[kind].up.push(
        await seconds(() =>
          pipeline(Readable.from([data]), bucket.openUploadStreamWithId(id, 'f')),
        ),
      );
      runs[kind].down.push(
        await seconds(async () => {
          let received = 0;
          for await (const chunk of bucket.openDownloadStream(id)) received += chunk.length;
          if (received !== data.length) throw new Error(`read ${received} of ${data.length} bytes`);
        }),
      );
      psql(store.database, 'CHECKPOINT;');
    }
  }
  const rate = (values: number[]) => FILE_MB / median(values);
  const size = (kind: string) =>
    psql(
      store.database,
      `SELECT pg_size_pretty(pg_total_relation_size(('bench."' || (SELECT _jsonb->>'table' FROM bench._ferretdb_database_metadata WHERE _jsonb->>'_id' = '${kind}.chunks') || '"')::regclass));`,
    ).trim();
  console.log(
    [
      `chunk storage benchmark; machine: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}; FerretDB 1.24.2 on PostgreSQL through our wrapper; ${FILE_MB} MB of random bytes per file, 255 KiB chunks, ${ROUNDS} rounds, medians`,
      '',
      '| chunk table storage | write (MB/s) | read (MB/s) | table size |',
      '|---|---|---|---|',
      `| EXTENDED (PostgreSQL's default; baseline) | ${rate(runs.extended.up).toFixed(1)} | ${rate(runs.extended.down).toFixed(1)} | ${size('extended')} |`,
      `| EXTERNAL (the wrapper's) | ${rate(runs.external.up).toFixed(1)} | ${rate(runs.external.down).toFixed(1)} | ${size('external')} |`,
      '',
      `EXTERNAL ÷ EXTENDED: writes ×${(rate(runs.external.up) / rate(runs.extended.up)).toFixed(2)}, reads ×${(rate(runs.external.down) / rate(runs.extended.down)).toFixed(2)}`,
    ].join('\n'),
  );
} finally {
  await client.close();
  await store.dispose();
}
