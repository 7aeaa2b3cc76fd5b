import { randomBytes } from 'node:crypto';
import { createReadStream, mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GridFSBucket, MongoClient, ObjectId } from 'mongodb';
import { ensureInfrastructure } from '../scripts/ensureInfrastructure.js';
import { psql } from '../scripts/infrastructure/localPostgres.js';
import { spawnStack } from '../scripts/spawnStack.js';
import {
  startFerretDbOnFreshDatabase,
  startPrivateFerretDb,
} from '../tests/helpers/privateServices.js';
import { uploadBenchFile, signUpBenchUser, writeMp4ShapedNoise } from './benchClient.js';

/**
 * `npm run bench:store`: the local store, FerretDB on PostgreSQL (with the wrapper's indexes),
 * each part under a whole stack of its own, and beside it FerretDB's SQLite handler, the
 * earlier default, in the same run.
 *
 * - Throughput, on both: one file uploaded through the router (the SDK, multipart) and written
 *   with the driver, then downloaded through the router's `/files` and read with the driver;
 *   and four driver uploads at once.
 * - Reads as the store fills, on PostgreSQL: the whole file and one 1 MiB Range of it through
 *   `/files`, and one chunk looked up by {files_id, n} with the driver, first with SMALL_MB
 *   stored, then with LARGE_MB stored. The figure that matters is each read's large/small
 *   ratio: a store that stays fast as it fills keeps it near 1. SQLite is left out here: each
 *   of its chunk lookups decodes the whole table, so its reads grow with the store by design
 *   (a 50 MB file took 52 s through `/files` with 220 MB stored).
 *
 * The filler files go into media's own video bucket, so its chunks table grows as a real
 * store's does. They have no video record; the stack's upload limit is an hour, so media's
 * janitor (which removes such files once they are older than twice that) leaves them alone.
 */
const MB = 2 ** 20;
const FILE_MB = Number(process.env.BENCH_STORE_FILE_MB ?? 50);
const FILLER_MB = 20;
const SMALL_MB = Number(process.env.BENCH_STORE_SMALL_MB ?? 200);
const LARGE_MB = Number(process.env.BENCH_STORE_LARGE_MB ?? 2000);
type Handler = 'sqlite' | 'postgresql';

const filler = randomBytes(FILLER_MB * MB);

/** A private FerretDB on `handler`; on PostgreSQL, in a database made for this run. */
async function startStore(handler: Handler) {
  if (handler === 'sqlite') return startPrivateFerretDb();
  const store = await startFerretDbOnFreshDatabase(`reelflux_bench_${process.pid}`);
  return {
    ...store,
    /**
     * After a fill, what a store settles into between bursts of uploads: autovacuum's pass
     * and a checkpoint done, rather than running under the reads being measured.
     */
    settle: () => psql(store.database, 'VACUUM ANALYZE; CHECKPOINT;'),
  };
}

const seconds = async (work: () => Promise<unknown>) => {
  const start = performance.now();
  await work();
  return (performance.now() - start) / 1000;
};
const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1] ?? 0;
const times = async (count: number, work: () => Promise<unknown>) => {
  const all: number[] = [];
  for (let i = 0; i < count; i++) all.push(await seconds(work));
  return median(all);
};

/** Drains a response body, and fails unless it is what was asked for. */
async function drain(response: Response, status: number, bytes: number): Promise<void> {
  if (response.status !== status) {
    throw new Error(`/files answered ${response.status}: ${(await response.text()).slice(0, 300)}`);
  }
  let received = 0;
  for await (const chunk of response.body ?? []) received += (chunk as Uint8Array).length;
  if (received !== bytes) throw new Error(`/files sent ${received} bytes, not ${bytes}`);
}

async function measure(
  handler: Handler,
  infra: Omit<Awaited<ReturnType<typeof ensureInfrastructure>>, 'stop'>,
  file: string,
) {
  const store = await startStore(handler);
  const prefix = `benchstore${Date.now().toString(36)}_`;
  const stack = await spawnStack({ ...infra, mongodbUri: store.url }, prefix, {
    // No worker: it would read the router's upload back for its conversion while the driver's
    // upload is measured.
    REELFLUX_PROCESSES: 'auth,media,conversion,notification,router',
    UPLOAD_TIMEOUT_SECONDS: '3600',
  });
  const client = new MongoClient(store.url);
  const media = client.db(`${prefix}media`);
  const videos = new GridFSBucket(media, { bucketName: 'videos' });
  const size = FILE_MB * MB;
  // Once on SQLite: each of its chunk lookups decodes the whole table.
  const repeat = handler === 'sqlite' ? 1 : 5;
  try {
    const token = await signUpBenchUser(stack.graphqlUrl);
    let id = '';
    const routerUp = await seconds(async () => {
      id = await uploadBenchFile(stack.graphqlUrl, token, file);
    });
    const driverUp = await seconds(() =>
      pipeline(createReadStream(file), videos.openUploadStreamWithId(new ObjectId(), 'same.mp4')),
    );
    const upload = () =>
      pipeline(Readable.from([filler]), videos.openUploadStreamWithId(new ObjectId(), 'filler'));
    const fourUp = await seconds(() => Promise.all([1, 2, 3, 4].map(upload)));
    const stored = { mb: 2 * FILE_MB + 4 * FILLER_MB };
    const fill = async (mb: number) => {
      for (; stored.mb < mb; stored.mb += 2 * FILLER_MB) await Promise.all([upload(), upload()]);
    };

    const headers = { authorization: `Bearer ${token}` };
    const url = `${stack.routerUrl}/files/videos/${id}`;
    const wholeViaRouter = async () => drain(await fetch(url, { headers }), 200, size);
    const start = Math.floor(size / 2 / MB) * MB + 12_345; // mid-file, across a chunk boundary
    const rangeViaRouter = async () =>
      drain(
        await fetch(url, { headers: { ...headers, range: `bytes=${start}-${start + MB - 1}` } }),
        206,
        MB,
      );
    const fileId = new ObjectId(id);
    const wholeViaDriver = async () => {
      let received = 0;
      for await (const chunk of videos.openDownloadStream(fileId)) received += chunk.length;
      if (received !== size) throw new Error(`read ${received} bytes, not ${size}`);
    };
    const chunks = media.collection('videos.chunks');
    const chunkCount = Math.ceil(size / (255 * 1024));
    let n = 0;
    const oneChunk = async () => {
      const chunk = await chunks.findOne({ files_id: fileId, n: n++ % chunkCount });
      if (!chunk) throw new Error(`chunk ${(n - 1) % chunkCount} of ${id} is missing`);
    };

    const throughput = {
      routerUp: FILE_MB / routerUp,
      driverUp: FILE_MB / driverUp,
      fourUp: (4 * FILLER_MB) / fourUp,
      routerDown: FILE_MB / (await times(repeat, wholeViaRouter)),
      driverDown: FILE_MB / (await times(repeat, wholeViaDriver)),
    };
    const reads = async () => ({
      whole: await times(repeat, wholeViaRouter),
      range: await times(repeat * 6, rangeViaRouter),
      chunk: await times(repeat * 4, oneChunk),
    });
    if (!('settle' in store)) return { throughput }; // SQLite: throughput only (see above)
    await fill(SMALL_MB);
    store.settle();
    const small = { mb: stored.mb, ...(await reads()) };
    await fill(LARGE_MB);
    store.settle();
    const large = { mb: stored.mb, ...(await reads()) };
    return { throughput, filling: { small, large } };
  } finally {
    await client.close();
    await stack.stop();
    await store.dispose();
  }
}

const { stop: stopInfra, ...infra } = await ensureInfrastructure();
const dir = mkdtempSync(join(tmpdir(), 'reelflux-bench-store-'));
const file = join(dir, 'same.mp4');
writeMp4ShapedNoise(file, FILE_MB * MB);
try {
  const results = {
    sqlite: await measure('sqlite', infra, file),
    postgresql: await measure('postgresql', infra, file),
  };
  const ms = (s: number) => `${(s * 1000).toFixed(0)} ms`;
  const row = (name: string, small: number, large: number) =>
    `${name} ${ms(small)} → ${ms(large)} (×${(large / small).toFixed(2)})`;
  const lines = [
    `store benchmark; machine: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}; FerretDB 1.24.2 through our wrapper; a ${FILE_MB} MB file, 255 KiB chunks`,
    '',
    '| handler | upload: router / driver / driver ×4 (MB/s) | download: router / driver (MB/s) |',
    '|---|---|---|',
  ];
  for (const [handler, { throughput: t }] of Object.entries(results)) {
    const mbs = (value: number) => value.toFixed(1);
    lines.push(
      `| ${handler} | ${mbs(t.routerUp)} / ${mbs(t.driverUp)} / ${mbs(t.fourUp)} | ${mbs(t.routerDown)} / ${mbs(t.driverDown)} |`,
    );
  }
  lines.push('');
  const { filling } = results.postgresql;
  if (filling) {
    const { small, large } = filling;
    lines.push(
      `postgresql, ${small.mb} MB → ${large.mb} MB stored: ` +
        [
          row('whole file via /files', small.whole, large.whole),
          row('1 MiB Range via /files', small.range, large.range),
          row('one chunk via the driver', small.chunk, large.chunk),
        ].join(' | '),
    );
  }
  process.stdout.write(`${lines.join('\n')}\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
  await stopInfra();
}
