import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { ensureInfrastructure } from '../scripts/ensureInfrastructure.js';
import { createReelfluxClient, type Mp3Options } from '../sdk/index.js';
import { spawnStack } from '../scripts/spawnStack.js';
import {
  bench720p,
  uploadBenchFile,
  plainFfmpeg,
  plainTwoAtATime,
  signUpBenchUser,
  waitForMp3,
} from './benchClient.js';

/**
 * `npm run bench:convert`: (1) one 10-minute 720p H.264/AAC video, (a) plain
 * `ffmpeg -i file -vn -c:a libmp3lame -b:a 192k` on the local file vs (b) the whole service:
 * upload through the router → SUCCEEDED → MP3 downloaded; with the worker's own stage times.
 * (1c) the same stored video converted again, plain and with two-pass loudness normalization
 * (chapters on, the default; the source has none), and the ratio of the two.
 * (2) twelve 1-minute videos with 2 worker slots vs plain ffmpeg two at a time. Inputs are
 * generated once into .local/bench/ (ffmpeg lavfi: a test pattern and a modulated tone).
 */
const LONG_SECONDS = Number(process.env.BENCH_LONG_SECONDS ?? 600);
const SHORT_COUNT = 12;
const { stop: stopInfra, ...infra } = await ensureInfrastructure();
const seconds = (since: number) => (performance.now() - since) / 1000;

const longVideo = bench720p(infra.ffmpegPath, LONG_SECONDS);
const shortVideo = bench720p(infra.ffmpegPath, 60);
const work = mkdtempSync(join(tmpdir(), 'reelflux-bench-'));
const stack = await spawnStack(infra, `bench${Date.now().toString(36)}_`, {
  LOG_LEVEL: 'info',
  WORKER_CONCURRENCY: '2',
  // One user fills both slots here: this measures throughput, not fairness (bench:fairness).
  MAX_RUNNING_CONVERSIONS_PER_USER: '2',
});
try {
  const token = await signUpBenchUser(stack.graphqlUrl);

  // (1a) plain ffmpeg on the local file
  let started = performance.now();
  await plainFfmpeg(infra.ffmpegPath, longVideo, join(work, 'plain.mp3'));
  const plainSeconds = seconds(started);

  // (1b) the whole service
  started = performance.now();
  const id = await uploadBenchFile(stack.graphqlUrl, token, longVideo);
  const uploadSeconds = seconds(started);
  const url = await waitForMp3(stack.graphqlUrl, token, id);
  const convertedAt = performance.now();
  const mp3 = Buffer.from(await (await fetch(url)).arrayBuffer());
  writeFileSync(join(work, 'service.mp3'), mp3);
  const downloadSeconds = seconds(convertedAt);
  const serviceSeconds = seconds(started);
  const stageLine = stack
    .output()
    .split('\n')
    .find((line) => line.includes(id) && line.includes('conversion stages'));
  const logged = stageLine
    ? (JSON.parse(stageLine.slice(stageLine.indexOf('{'))) as {
        stages: Record<string, number>;
        path: string;
      })
    : { stages: {}, path: 'unknown path' };
  const { stages, path: stagePath } = logged;

  // (1c) convert again from the stored file: plain, then two-pass loudness (measure, then gain)
  const reelflux = createReelfluxClient({ url: stack.graphqlUrl, token });
  const convertAgain = async (mp3: Mp3Options) => {
    const since = performance.now();
    const conversion = await reelflux.convertVideo(id, mp3);
    await waitForMp3(stack.graphqlUrl, token, conversion.id);
    return { seconds: seconds(since), conversion: await reelflux.conversion(conversion.id) };
  };
  const againPlain = await convertAgain({});
  const againLoud = await convertAgain({ loudness: { preset: 'PODCAST' } });
  const loudness = againLoud.conversion.audio?.loudness;

  // (2) throughput: 12 one-minute videos, 2 slots each way
  const plainBatch = await plainTwoAtATime(infra.ffmpegPath, shortVideo, work, SHORT_COUNT);
  started = performance.now();
  const ids = await Promise.all(
    Array.from({ length: SHORT_COUNT }, () => uploadBenchFile(stack.graphqlUrl, token, shortVideo)),
  );
  await Promise.all(ids.map((each) => waitForMp3(stack.graphqlUrl, token, each)));
  const serviceBatch = seconds(started);

  const mb = (statSync(longVideo).size / 2 ** 20).toFixed(0);
  const stageText = Object.entries(stages)
    .map(([name, ms]) => `${name.replace(/Ms$/, '')} ${(ms / 1000).toFixed(2)} s`)
    .join(', ');
  // The worker's first stages (head, uploadWait) run while the upload streams.
  const afterAnswer = serviceSeconds - uploadSeconds - downloadSeconds;
  console.log(
    [
      `conversion benchmark; machine: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}; local store FerretDB on PostgreSQL`,
      '',
      `| ${LONG_SECONDS / 60}-minute 720p H.264/AAC video (${mb} MB) | seconds |`,
      '|---|---|',
      `| (a) plain ffmpeg → MP3 192k, local file | ${plainSeconds.toFixed(1)} |`,
      `| (b) REELFLUX: upload → SUCCEEDED → MP3 downloaded | ${serviceSeconds.toFixed(1)} |`,
      `| **ratio b/a** | **${(serviceSeconds / plainSeconds).toFixed(2)}** |`,
      '',
      `where (b) went: upload ${uploadSeconds.toFixed(1)} s; from its answer to SUCCEEDED ${afterAnswer.toFixed(2)} s; MP3 download ${downloadSeconds.toFixed(2)} s; the worker's stages (${stagePath}, the first ones during the upload): ${stageText}`,
      '',
      `| the same video converted again (stored file) | seconds |`,
      '|---|---|',
      `| (c1) plain, 192k | ${againPlain.seconds.toFixed(1)} |`,
      `| (c2) loudness PODCAST (-16 LUFS), chapters on | ${againLoud.seconds.toFixed(1)} |`,
      `| **ratio c2/c1** | **${(againLoud.seconds / againPlain.seconds).toFixed(2)}** |`,
      '',
      `(c2) measured: ${loudness ? `${loudness.inputLufs} → ${loudness.outputLufs} LUFS, true peak ${loudness.truePeakDb} dBTP, ${loudness.mode}` : 'no report'}`,
      '',
      `| ${SHORT_COUNT} one-minute videos, 2 at a time | seconds |`,
      '|---|---|',
      `| plain ffmpeg, 2 processes | ${plainBatch.toFixed(1)} |`,
      `| REELFLUX, 2 worker slots (uploads included) | ${serviceBatch.toFixed(1)} |`,
      `| **throughput ratio** | **${(plainBatch / serviceBatch).toFixed(2)}** |`,
    ].join('\n'),
  );
} finally {
  rmSync(work, { recursive: true, force: true });
  await stack.stop();
  await stopInfra();
}
