import { cpus, totalmem } from 'node:os';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GridFSBucket, MongoClient, ObjectId } from 'mongodb';
import { LOCAL_POSTGRESQL, psql } from '../scripts/infrastructure/localPostgres.js';
import { startPrivateFerretDb } from '../tests/helpers/privateServices.js';

/**
 * `npm run bench:store`: the local store on FerretDB's SQLite handler and on its PostgreSQL
 * handler (with the wrapper's indexes), in one run, through the MongoDB driver as media and
 * the worker use it: upload MB/s (one stream, then four at once), one whole file read back,
 * and one chunk looked up by {files_id, n}, first with SMALL_MB stored, then again with
 * LARGE_MB stored. The figure that matters is each read's large/small ratio: a store that
 * stays fast as it fills keeps it near 1.
 */
const MB = 2 ** 20;
const FILE_MB = 20;
const SMALL_MB = Number(process.env.BENCH_STORE_SMALL_MB ?? 200);
const LARGE_MB = Number(process.env.BENCH_STORE_LARGE_MB ?? 1000);

const noise = Buffer.alloc(FILE_MB * MB);
for (let i = 0; i < noise.length; i += 4) noise.writeUInt32LE((Math.random() * 2 ** 32) >>> 0, i);

/** A private FerretDB on `handler`; on PostgreSQL, in a database made for this run. */
async function startStore(handler: 'sqlite' | 'postgresql') {
  if (handler === 'sqlite') return startPrivateFerretDb();
  const database = `reelflux_bench_${process.pid}`;
  psql('postgres', `DROP DATABASE IF EXISTS ${database}; CREATE DATABASE ${database};`);
  const store = await startPrivateFerretDb({ postgresqlUrl: `${LOCAL_POSTGRESQL}/${database}` });
  return {
    ...store,
    async dispose() {
      await store.dispose();
      psql('postgres', `DROP DATABASE IF EXISTS ${database} WITH (FORCE);`);
    },
  };
}

const seconds = async (work: () => Promise<unknown>) => {
  const start = performance.now();
  await work();
  return (performance.now() - start) / 1000;
};

const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1] ?? 0;

async function measure(handler: 'sqlite' | 'postgresql') {
  const store = await startStore(handler);
  const client = new MongoClient(store.url);
  const bucket = new GridFSBucket(client.db('bench'), { bucketName: 'videos' });
  const upload = (id = new ObjectId()) =>
    pipeline(Readable.from([noise]), bucket.openUploadStreamWithId(id, 'f')).then(() => id);
  const stored = { mb: 0 };
  const fill = async (mb: number) => {
    while (stored.mb < mb) {
      await Promise.all([upload(), upload()]);
      stored.mb += 2 * FILE_MB;
    }
  };
  try {
    const fixed = new ObjectId();
    const oneStream = FILE_MB / (await seconds(() => upload(fixed)));
    const fourStreams =
      (4 * FILE_MB) / (await seconds(() => Promise.all([1, 2, 3, 4].map(() => upload()))));
    stored.mb = 5 * FILE_MB;
    const reads = async () => {
      const whole = await seconds(async () => {
        for await (const chunk of bucket.openDownloadStream(fixed)) void chunk;
      });
      const chunks = client.db('bench').collection('videos.chunks');
      const lookups: number[] = [];
      for (let n = 0; n < (handler === 'sqlite' ? 3 : 20); n++) {
        lookups.push(await seconds(() => chunks.findOne({ files_id: fixed, n: n % 40 })));
      }
      return { whole, chunk: median(lookups) };
    };
    await fill(SMALL_MB);
    const small = await reads();
    await fill(LARGE_MB);
    const large = await reads();
    return { oneStream, fourStreams, small, large };
  } finally {
    await client.close();
    await store.dispose();
  }
}

const results = {
  sqlite: await measure('sqlite'),
  postgresql: await measure('postgresql'),
};
const ms = (s: number) => `${(s * 1000).toFixed(0)} ms`;
process.stdout.write(
  `store benchmark; machine: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}; FerretDB 1.24.2 through our wrapper; ${FILE_MB} MB files, 255 KiB chunks\n`,
);
for (const [handler, r] of Object.entries(results)) {
  process.stdout.write(
    `${handler.padEnd(10)} upload ${r.oneStream.toFixed(1)} MB/s (one stream), ${r.fourStreams.toFixed(1)} MB/s (four)` +
      ` | whole file ${ms(r.small.whole)} at ${SMALL_MB} MB, ${ms(r.large.whole)} at ${LARGE_MB} MB (×${(r.large.whole / r.small.whole).toFixed(2)})` +
      ` | one chunk ${ms(r.small.chunk)} → ${ms(r.large.chunk)} (×${(r.large.chunk / r.small.chunk).toFixed(2)})\n`,
  );
}
