import { spawn } from 'node:child_process';
import { createReadStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { GridFSBucket, MongoClient } from 'mongodb';
import { ensureInfrastructure } from '../scripts/ensureInfrastructure.js';
import { fromRoot } from '../lib/platform/projectRoot.js';
import { freePort, spawnStack } from '../scripts/spawnStack.js';
import {
  bench720p,
  bigStreamable,
  uploadBenchFile,
  plainFfmpeg,
  plainTwoAtATime,
  rssOf,
  signUpBenchUser,
  waitForMp3,
} from './benchClient.js';

/**
 * `npm run bench:realtime`: how soon the MP3 is ready once an upload ends, now that conversion
 * runs while the upload streams. One 10-minute 720p H.264/AAC video, its MP4 index first:
 *
 * 1. uploaded with the SDK at 8 MB/s (a fast home connection): seconds from the upload's answer to
 *    SUCCEEDED and to the MP3 downloaded, p50 of RUNS;
 * 2. uploaded at full speed: upload start → MP3 downloaded, against the larger of a raw driver
 *    GridFS upload of the same file into the same store and plain ffmpeg on the same file, both
 *    in the same run (what is left is the cost of the pipeline beyond those two);
 * 3. the same video with its index last, at 8 MB/s: the fallback, converted once the upload ends;
 * 4. twelve 1-minute videos (index first) uploaded at once against plain ffmpeg, 2 at a time;
 * 5. (1) and (2) once more with WORKER_REALTIME=false, the conversion after the upload as before;
 * 6. with realtime on again, one large video (BENCH_BIG_MB, 2048 by default; 0 skips it) at full
 *    speed, for the peak RSS of router, media and worker on the realtime path.
 *
 * The worker runs as a child of this script, so it can be restarted with realtime off. Peak
 * RSS of router, media and worker is sampled throughout.
 */
const LONG_SECONDS = Number(process.env.BENCH_LONG_SECONDS ?? 600);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const THROTTLE = 8_000_000;
const SHORT_COUNT = 12;
const BIG_MB = Number(process.env.BENCH_BIG_MB ?? 2048);
const { stop: stopInfra, ...infra } = await ensureInfrastructure();
const video = (seconds: number, faststart: boolean) =>
  bench720p(infra.ffmpegPath, seconds, faststart);
const since = (start: number) => (performance.now() - start) / 1000;
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[middle] ?? 0)
    : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
};
const streamable = video(LONG_SECONDS, true);
const indexLast = video(LONG_SECONDS, false);
const shortVideo = video(60, true);
const work = mkdtempSync(join(tmpdir(), 'reelflux-bench-'));
const prefix = `bench${Date.now().toString(36)}_`;
const big = BIG_MB > 0 ? bigStreamable(infra.ffmpegPath, BIG_MB) : undefined;
const stack = await spawnStack(infra, prefix, {
  REELFLUX_PROCESSES: 'auth,media,conversion,notification,router',
  MAX_UPLOAD_BYTES: String(Math.max(2 * 2 ** 30, (big ? statSync(big).size : 0) + 2 ** 20)),
  MAX_STORED_BYTES_PER_USER: String(64 * 2 ** 30),
  LOG_LEVEL: 'info',
  // One user fills both slots here: this measures speed, not fairness (bench:fairness).
  MAX_RUNNING_CONVERSIONS_PER_USER: '2',
  MAX_CONVERSIONS_PER_VIDEO: '1000',
});
let workerLog = '';
/** A worker process with 2 slots, realtime on or off; resolves once it is ready. */
const startWorker = async (realtime: boolean) => {
  const port = await freePort();
  const child = spawn(process.execPath, [fromRoot('dist', 'worker', 'main.js')], {
    env: {
      ...stack.env,
      WORKER_INTERNAL_PORT: String(port),
      WORKER_CONCURRENCY: '2',
      WORKER_REALTIME: String(realtime),
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  child.stdout.on('data', (chunk: Buffer) => (workerLog += chunk.toString()));
  while ((await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => null))?.status !== 200) {
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return child;
};
const mongo = new MongoClient(infra.mongodbUri);
const launcher = stack.launcher.pid ?? 0;
const peak: Record<string, number> = { router: 0, media: 0, worker: 0 };
const sampler = setInterval(() => {
  for (const name of ['router', 'media'] as const) {
    peak[name] = Math.max(peak[name] ?? 0, rssOf(launcher, `${name}/main.js`));
  }
  peak.worker = Math.max(peak.worker ?? 0, rssOf(process.pid, 'worker/main.js'));
}, 200);
let worker = await startWorker(true);
try {
  const token = await signUpBenchUser(stack.graphqlUrl);
  /** Uploads `path`; seconds from the start to the answer, to SUCCEEDED, to the MP3 downloaded. */
  const convert = async (path: string, limitRate?: number) => {
    const start = performance.now();
    const id = await uploadBenchFile(stack.graphqlUrl, token, path, {}, limitRate);
    const answered = since(start);
    const url = await waitForMp3(stack.graphqlUrl, token, id, 20);
    const succeeded = since(start);
    await (await fetch(url)).arrayBuffer();
    return { id, answered, succeeded, downloaded: since(start) };
  };
  const stagesLine = (id: string) =>
    workerLog.split('\n').find((line) => line.includes(id) && line.includes('conversion stages')) ??
    '';
  const pathOf = (id: string) => /"path":"(\w+)"/.exec(stagesLine(id))?.[1] ?? 'unknown';
  const stagesOf = (id: string) => /"stages":(\{[^}]*\})/.exec(stagesLine(id))?.[1] ?? '{}';

  // (1) throttled, index first
  const throttled = [];
  for (let run = 0; run < RUNS; run++) throttled.push(await convert(streamable, THROTTLE));
  // (2) unthrottled, index first, with both baselines in the same run
  const full = [];
  const driver = [];
  const plain = [];
  const db = mongo.db(`${prefix}media`);
  for (let run = 0; run < RUNS; run++) {
    full.push(await convert(streamable));
    let start = performance.now();
    await pipeline(
      createReadStream(streamable),
      new GridFSBucket(db, { bucketName: 'bench' }).openUploadStream('same.mp4'),
    );
    driver.push(since(start));
    start = performance.now();
    await plainFfmpeg(infra.ffmpegPath, streamable, join(work, 'plain.mp3'));
    plain.push(since(start));
  }
  // (3) index last, throttled: the fallback
  const fallback = await convert(indexLast, THROTTLE);
  // (4) twelve one-minute videos at once
  const plainBatch = await plainTwoAtATime(infra.ffmpegPath, shortVideo, work, SHORT_COUNT);
  const start = performance.now();
  const batch = await Promise.all(Array.from({ length: SHORT_COUNT }, () => convert(shortVideo)));
  const serviceBatch = since(start);
  // (5) realtime off
  worker.kill('SIGTERM');
  await new Promise((resolve) => worker.once('exit', resolve));
  worker = await startWorker(false);
  const offThrottled = await convert(streamable, THROTTLE);
  const offFull = await convert(streamable);
  const peakBefore = { ...peak };
  // (6) one large video, realtime on: the peaks so far are reset, so these are its own
  let bigRun: { id: string; answered: number; succeeded: number } | undefined;
  let bigPeak: Record<string, number> | undefined;
  if (big) {
    worker.kill('SIGTERM');
    await new Promise((resolve) => worker.once('exit', resolve));
    worker = await startWorker(true);
    for (const name of Object.keys(peak)) peak[name] = 0;
    bigRun = await convert(big);
    bigPeak = { ...peak };
  }

  const after = (r: { answered: number; succeeded: number; downloaded: number }) => ({
    succeeded: r.succeeded - r.answered,
    downloaded: r.downloaded - r.answered,
  });
  const list = (values: number[]) => values.map((v) => v.toFixed(2)).join(', ');
  const e2e = median(full.map((r) => r.downloaded));
  const floor = Math.max(median(driver), median(plain));
  const mb = (statSync(streamable).size / 2 ** 20).toFixed(0);
  const paths = [...throttled, ...full].map((r) => pathOf(r.id));
  const batchPaths = batch.map((r) => pathOf(r.id));
  console.log(
    [
      `realtime conversion benchmark; machine: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}; local store FerretDB on PostgreSQL; ${RUNS} runs each`,
      '',
      `| ${LONG_SECONDS / 60}-minute 720p video (${mb} MB), index first | p50 seconds | runs |`,
      '|---|---|---|',
      `| 8 MB/s upload: its answer → SUCCEEDED | **${median(throttled.map((r) => after(r).succeeded)).toFixed(2)}** | ${list(throttled.map((r) => after(r).succeeded))} |`,
      `| 8 MB/s upload: its answer → MP3 downloaded | ${median(throttled.map((r) => after(r).downloaded)).toFixed(2)} | ${list(throttled.map((r) => after(r).downloaded))} |`,
      `| 8 MB/s upload: the upload itself | ${median(throttled.map((r) => r.answered)).toFixed(2)} | ${list(throttled.map((r) => r.answered))} |`,
      `| full speed: upload start → MP3 downloaded (e) | ${e2e.toFixed(2)} | ${list(full.map((r) => r.downloaded))} |`,
      `| full speed: the upload itself | ${median(full.map((r) => r.answered)).toFixed(2)} | ${list(full.map((r) => r.answered))} |`,
      `| full speed: its answer → SUCCEEDED | ${median(full.map((r) => after(r).succeeded)).toFixed(2)} | ${list(full.map((r) => after(r).succeeded))} |`,
      `| raw driver GridFS upload of the same file (d) | ${median(driver).toFixed(2)} | ${list(driver)} |`,
      `| plain ffmpeg on the same file (f) | ${median(plain).toFixed(2)} | ${list(plain)} |`,
      `| **e / max(d, f)** | **${(e2e / floor).toFixed(2)}** | |`,
      `| realtime off, 8 MB/s: its answer → SUCCEEDED, → MP3 downloaded | ${after(offThrottled).succeeded.toFixed(2)}, ${after(offThrottled).downloaded.toFixed(2)} | 1 run |`,
      `| realtime off, full speed: upload start → MP3 downloaded | ${offFull.downloaded.toFixed(2)} | 1 run (upload ${offFull.answered.toFixed(2)}) |`,
      '',
      `paths taken: ${paths.join(', ')}`,
      `worker stages (ms) of the last 8 MB/s run: ${stagesOf(throttled.at(-1)?.id ?? '')}`,
      '',
      `index last (fallback, path ${pathOf(fallback.id)}), 8 MB/s: answer → SUCCEEDED ${after(fallback).succeeded.toFixed(2)} s, → MP3 downloaded ${after(fallback).downloaded.toFixed(2)} s`,
      '',
      `| ${SHORT_COUNT} one-minute videos, index first | seconds |`,
      '|---|---|',
      `| plain ffmpeg, 2 processes | ${plainBatch.toFixed(1)} |`,
      `| REELFLUX, all uploaded at once, 2 worker slots | ${serviceBatch.toFixed(1)} |`,
      `| **throughput ratio** | **${(plainBatch / serviceBatch).toFixed(2)}** |`,
      '',
      `batch paths: ${Object.entries(
        batchPaths.reduce<Record<string, number>>((counts, path) => {
          counts[path] = (counts[path] ?? 0) + 1;
          return counts;
        }, {}),
      )
        .map(([path, count]) => `${path} ${count}`)
        .join(', ')}`,
      `peak RSS over (1)–(5): ${Object.entries(peakBefore)
        .map(([name, bytes]) => `${name} ${(bytes / 2 ** 20).toFixed(0)} MB`)
        .join(', ')}`,
      ...(big && bigRun && bigPeak
        ? [
            `large video (${(statSync(big).size / 2 ** 20).toFixed(0)} MB, index first), full speed, path ${pathOf(bigRun.id)}: upload ${bigRun.answered.toFixed(1)} s, answer → SUCCEEDED ${(bigRun.succeeded - bigRun.answered).toFixed(2)} s; peak RSS during it: ${Object.entries(
              bigPeak,
            )
              .map(([name, bytes]) => `${name} ${(bytes / 2 ** 20).toFixed(0)} MB`)
              .join(', ')}`,
          ]
        : []),
    ].join('\n'),
  );
} finally {
  clearInterval(sampler);
  worker.kill('SIGTERM');
  rmSync(work, { recursive: true, force: true });
  await mongo.close();
  await stack.stop();
  await stopInfra();
}
