import { createReadStream, mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { GridFSBucket, MongoClient } from 'mongodb';
import { ensureInfrastructure } from '../scripts/ensureInfrastructure.js';
import { spawnStack } from '../scripts/spawnStack.js';
import { uploadBenchFile, rssOf, signUpBenchUser, writeMp4ShapedNoise } from './benchClient.js';

/**
 * `npm run bench:upload`: the same file (a) uploaded through the router with the SDK (multipart,
 * streamed from disk) and (b) written straight into GridFS with the driver, same database,
 * same run; MB/s of each and the ratio. Then a large file (2 GiB by default) through the
 * router while the router's and media's RSS is sampled, to show nothing buffers the file.
 */
const SIZE = Number(process.env.BENCH_UPLOAD_MB ?? 300) * 2 ** 20;
const BIG = Number(process.env.BENCH_BIG_MB ?? 2048) * 2 ** 20;
const MB = 2 ** 20;

const dir = mkdtempSync(join(tmpdir(), 'reelflux-bench-'));
const { stop: stopInfra, ...infra } = await ensureInfrastructure();
const prefix = `bench${Date.now().toString(36)}_`;
const stack = await spawnStack(infra, prefix, {
  // No worker: it would read each upload back for its conversion while (b) is measured.
  REELFLUX_PROCESSES: 'auth,media,conversion,notification,router',
  LOG_LEVEL: 'warn',
  MAX_UPLOAD_BYTES: String(BIG + MB),
});
const mongo = new MongoClient(infra.mongodbUri);
try {
  const token = await signUpBenchUser(stack.graphqlUrl);
  const file = join(dir, 'same.mp4');
  writeMp4ShapedNoise(file, SIZE);

  let started = performance.now();
  await uploadBenchFile(stack.graphqlUrl, token, file);
  const viaRouter = SIZE / MB / ((performance.now() - started) / 1000);

  started = performance.now();
  const db = mongo.db(`${prefix}media`);
  await pipeline(
    createReadStream(file),
    new GridFSBucket(db, { bucketName: 'bench' }).openUploadStream('same.mp4'),
  );
  const direct = SIZE / MB / ((performance.now() - started) / 1000);
  rmSync(file);

  const bigFile = join(dir, 'big.mp4');
  writeMp4ShapedNoise(bigFile, BIG);
  const launcher = stack.launcher.pid ?? 0;
  const peak = {
    router: rssOf(launcher, 'router/main.js'),
    media: rssOf(launcher, 'media/main.js'),
  };
  const idle = { ...peak };
  const sampler = setInterval(() => {
    peak.router = Math.max(peak.router, rssOf(launcher, 'router/main.js'));
    peak.media = Math.max(peak.media, rssOf(launcher, 'media/main.js'));
  }, 200);
  started = performance.now();
  await uploadBenchFile(stack.graphqlUrl, token, bigFile);
  const bigRate = BIG / MB / ((performance.now() - started) / 1000);
  clearInterval(sampler);

  const mb = (bytes: number) => `${(bytes / MB).toFixed(0)} MB`;
  console.log(
    [
      `upload benchmark: ${SIZE / MB} MB file, then ${BIG / MB} MB; local store FerretDB on PostgreSQL`,
      `machine: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`,
      '',
      '| path | MB/s |',
      '|---|---|',
      `| (a) SDK → router → media → GridFS | ${viaRouter.toFixed(1)} |`,
      `| (b) driver → GridFS directly | ${direct.toFixed(1)} |`,
      `| **ratio a/b** | **${(viaRouter / direct).toFixed(2)}** |`,
      '',
      `${BIG / MB} MB through the router at ${bigRate.toFixed(1)} MB/s; RSS idle → peak: router ${mb(idle.router)} → ${mb(peak.router)}, media ${mb(idle.media)} → ${mb(peak.media)}`,
    ].join('\n'),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
  await mongo
    .db(`${prefix}media`)
    .dropDatabase()
    .catch(() => undefined);
  await mongo.close();
  await stack.stop();
  await stopInfra();
}
