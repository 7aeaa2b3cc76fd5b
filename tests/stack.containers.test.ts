import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { MongoClient } from 'mongodb';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { compose } from '../scripts/containers/compose.js';
import { docker } from '../scripts/containers/docker.js';
import { IMAGES, imageBytes } from '../scripts/containers/localImages.js';
import { ALLOWED_DEMUXERS } from '../worker/probeMedia.js';
import { createReelfluxClient, type Conversion } from '../sdk/index.js';
import { PASSWORD } from './helpers/authOperations.js';
import { makeLongAudio, makeVideo, probeMp3, writeTone } from './helpers/fixtures.js';
import { uniqueName } from './helpers/uniqueName.js';

/**
 * The image users build, run for real: the project's Dockerfile and docker-compose.yml (with
 * docker-compose.local.yml on top) on a Docker engine, driven through the router with the SDK.
 * The stack is brought up once by tests/containersSetup.ts; the tests run in order, and the
 * last one stops it.
 */

const execFileAsync = promisify(execFile);
const PROCESSES = ['router', 'auth', 'media', 'conversion', 'notification', 'worker'] as const;
const SERVICES = ['mongo', 'rabbitmq', ...PROCESSES] as const;
/** Largest the image may be, uncompressed (`docker image inspect`). */
const IMAGE_BUDGET_BYTES = 400 * 1024 * 1024;

describe('the stack in containers', () => {
  const stack = inject('containers');
  const run = (args: string[]) => compose(stack.compose, args, { env: stack.env });
  const containerOf = (service: string) => {
    const id = run(['ps', '--all', '--quiet', service]).trim();
    if (!id) throw new Error(`no container for ${service}`);
    return id;
  };
  const inspect = (id: string, format: string) =>
    docker(['inspect', '--format', format, id]).trim();
  // Fixtures are read inside containers too, as their own users.
  const work = mkdtempSync(join(tmpdir(), 'reelflux-containers-'));
  chmodSync(work, 0o755);
  const mongo = new MongoClient(stack.mongodbUri);
  const reelflux = createReelfluxClient({ url: stack.routerUrl });
  const figures: string[] = [];
  afterAll(async () => {
    await mongo.close();
    rmSync(work, { recursive: true, force: true });
    process.stdout.write(`containers | figures:\n${figures.map((f) => `  ${f}\n`).join('')}`);
  });

  it('runs every container as a non-root user, each healthy by its own check', () => {
    figures.push(`healthy after compose up: ${stack.healthySeconds.toFixed(1)} s`);
    for (const service of SERVICES) {
      const id = containerOf(service);
      expect(inspect(id, '{{.State.Health.Status}}'), service).toBe('healthy');
      expect(inspect(id, '{{.HostConfig.NetworkMode}}'), service).toBe('host');
      const uid = docker(['exec', id, 'id', '-u']).trim();
      expect(Number(uid), `${service} runs as uid ${uid}`).toBeGreaterThan(0);
    }
    // Each process's check asks its own internal port: told that port is one nothing listens on, it
    // fails, though the other five processes answer on the same host network.
    for (const name of PROCESSES) {
      const id = containerOf(name);
      const check = (env: string[]) =>
        spawnSync('docker', ['exec', id, 'env', ...env, 'node', 'dist/scripts/healthcheck.js'])
          .status;
      expect(check([]), name).toBe(0);
      expect(check([`${name.toUpperCase()}_INTERNAL_PORT=1`]), name).not.toBe(0);
    }
  }, 120_000);

  it('keeps the image under its budget, with an FFmpeg that only makes MP3s from local input', () => {
    const bytes = imageBytes(IMAGES.app);
    const layers = docker(['history', '--format', '{{.Size}}\t{{.CreatedBy}}', IMAGES.app])
      .split('\n')
      .filter((line) => /^\d/.test(line) && !line.startsWith('0B'))
      .map((line) => line.slice(0, 110));
    figures.push(
      `image ${IMAGES.app}: ${(bytes / 1024 / 1024).toFixed(0)} MiB on ${stack.images.nodeImage}, ` +
        `built in ${stack.images.appBuildSeconds.toFixed(0)} s (local bases ${stack.images.baseSeconds.toFixed(0)} s)`,
      ...layers.map((line) => `  layer ${line}`),
    );

    const ffmpeg = (args: string[]) =>
      docker(['run', '--rm', '--network', 'host', '--entrypoint', 'ffmpeg', IMAGES.app, ...args]);
    const demuxers = ffmpeg(['-hide_banner', '-demuxers']);
    for (const demuxer of ALLOWED_DEMUXERS) {
      expect(demuxers, demuxer).toMatch(new RegExp(`^ D\\s+\\S*\\b${demuxer}\\b`, 'm'));
    }
    expect(ffmpeg(['-hide_banner', '-encoders'])).toMatch(/libmp3lame/);
    // `-protocols` prints "Input:", the input protocols, "Output:", the output ones.
    const inputs = /Input:\n([^]*?)Output:/.exec(ffmpeg(['-hide_banner', '-protocols']))?.[1];
    expect(inputs?.split(/\s+/).filter(Boolean).sort()).toEqual(['file', 'pipe']);
    expect(bytes).toBeLessThan(IMAGE_BUDGET_BYTES);
  });

  it("decodes the audio of each container the worker allows with the image's FFmpeg", () => {
    // Made by the machine's full FFmpeg; read by the image's, as the worker reads uploads.
    const samples: [file: string, args: string[]][] = [
      ['opus.mkv', ['-c:a', 'libopus']],
      ['vorbis.webm', ['-c:a', 'libvorbis']],
      ['ac3.ts', ['-c:a', 'ac3']],
      ['pcm.avi', ['-c:a', 'pcm_s16le']],
      ['mp3.flv', ['-c:a', 'libmp3lame']],
      ['alac.mov', ['-c:a', 'alac']],
      ['wavpack.mkv', ['-c:a', 'wavpack']],
      ['adpcm.wav', ['-c:a', 'adpcm_ima_wav']],
      ['flac.ogg', ['-c:a', 'flac']],
      ['wma.asf', ['-c:a', 'wmav2']],
      ['mp2.mpg', ['-c:a', 'mp2', '-f', 'mpeg']],
    ];
    for (const [file, args] of samples) {
      writeTone(stack.ffmpegPath, join(work, file), 3, args);
      const mp3 = execFileSync(
        'docker',
        ['run', '--rm', '--network', 'host', '-v', `${work}:/in:ro`, '--entrypoint', 'ffmpeg']
          .concat([IMAGES.app, '-v', 'error', '-i', `/in/${file}`, '-vn', '-c:a', 'libmp3lame'])
          .concat(['-f', 'mp3', 'pipe:1']),
        { maxBuffer: 16 * 1024 * 1024 },
      );
      expect(probeMp3(stack.ffprobePath, mp3).durationSeconds, file).toBeCloseTo(3, 0);
    }
  }, 180_000);

  it('converts a video end to end through the router in its container (SDK)', async () => {
    await reelflux.signUp(`${uniqueName('ctr')}@example.com`, PASSWORD);
    const clip = join(work, 'In a container.mp4');
    writeFileSync(clip, makeVideo(stack.ffmpegPath, 8));
    const started = Date.now();
    const video = await reelflux.uploadVideo(clip, { mp3: { bitrateKbps: 128 } });
    let last: Conversion | undefined;
    for await (const state of reelflux.watchConversion(video.id)) last = state;
    const seconds = (Date.now() - started) / 1_000;
    figures.push(`8 s video, upload → SUCCEEDED through the containers: ${seconds.toFixed(2)} s`);
    expect(last?.status).toBe('SUCCEEDED');

    const target = join(work, 'out.mp3');
    const { bytes } = await reelflux.download(last?.audio ?? { downloadUrl: '' }, target);
    expect(bytes).toBe(last?.audio?.bytes);
    const mp3 = readFileSync(target);
    const stored = await mongo
      .db('reelflux_media')
      .collection<{ metadata: { sha256: string } }>('audio.files')
      .findOne({ 'metadata.conversionId': video.id });
    expect(createHash('sha256').update(mp3).digest('hex')).toBe(stored?.metadata.sha256);
    const facts = probeMp3(stack.ffprobePath, mp3);
    expect(facts).toMatchObject({ codec: 'mp3', bitrateKbps: 128 });
    expect(facts.durationSeconds).toBeCloseTo(8, 0);
  });

  it('serves the web app from the image at /, with its CSP and cached assets', async () => {
    const page = await fetch(`${stack.routerUrl}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(await page.text())?.[1];
    expect(script).toBeDefined();
    const asset = await fetch(`${stack.routerUrl}${script}`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('cache-control')).toContain('immutable');
    expect((await asset.text()).length).toBeGreaterThan(10_000);
    // NODE_ENV=production: no Sandbox, whose page would run Apollo's CDN script on this origin.
    const sandbox = await fetch(`${stack.routerUrl}/graphql`, { headers: { accept: 'text/html' } });
    expect(await sandbox.text()).not.toMatch(/sandbox|apollographql\.com/i);
  });

  it('restarts a killed worker container, and its job ends SUCCEEDED once', async () => {
    const worker = containerOf('worker');
    const restartsBefore = Number(inspect(worker, '{{.RestartCount}}'));
    const long = join(work, 'long.mp4');
    writeFileSync(long, makeLongAudio(stack.ffmpegPath, 600));
    const video = await reelflux.uploadVideo(long, {
      mp3: { bitrateKbps: 64, sampleRateHz: 44_100 },
    });
    let killed = false;
    const states: Conversion[] = [];
    for await (const state of reelflux.watchConversion(video.id)) {
      states.push(state);
      if (!killed && state.status === 'RUNNING' && (state.progress ?? 0) > 0) {
        // What a crash does: the worker process dies at once, tini (PID 1) exits with it, and
        // Docker's restart policy brings the container back.
        // The exec's own status is lost with the container it ran in; the restart count and
        // the second attempt below tell whether the kill happened.
        spawnSync('docker', [
          'exec',
          worker,
          'sh',
          '-c',
          'kill -KILL $(cat /proc/1/task/1/children)',
        ]);
        killed = true;
      }
    }
    expect(killed).toBe(true);
    expect(states.filter((state) => state.status === 'SUCCEEDED')).toHaveLength(1);
    expect(states.at(-1)).toMatchObject({ status: 'SUCCEEDED', attempts: 2 });
    expect(Number(inspect(worker, '{{.RestartCount}}'))).toBe(restartsBefore + 1);
    await until(() => inspect(worker, '{{.State.Health.Status}}') === 'healthy', 60_000);
    const media = mongo.db('reelflux_media');
    expect(
      await media.collection('audio.files').countDocuments({ 'metadata.conversionId': video.id }),
    ).toBe(1);
    const facts = probeMp3(stack.ffprobePath, await downloadOf(states.at(-1)));
    expect(Math.abs(facts.durationSeconds - 600)).toBeLessThanOrEqual(0.5);
  }, 300_000);

  it('drains each process on docker stop, exiting 0 within its grace period', async () => {
    // A job running when the worker is told to stop is finished (it takes seconds, well inside
    // WORKER_DRAIN_SECONDS) before the worker exits.
    const long = join(work, 'drained.mp4');
    writeFileSync(long, makeLongAudio(stack.ffmpegPath, 600));
    const video = await reelflux.uploadVideo(long, {
      mp3: { bitrateKbps: 64, sampleRateHz: 44_100 },
    });
    const updates = reelflux.watchConversion(video.id);
    for await (const state of updates) if (state.status === 'RUNNING') break;
    // The worker first, while its job runs; then the rest.
    const order = ['worker', 'conversion', 'notification', 'media', 'auth', 'router'] as const;
    for (const name of order) {
      const id = containerOf(name);
      const grace = name === 'worker' ? 75 : 10;
      const started = Date.now();
      await execFileAsync('docker', ['stop', '--time', String(grace), id]);
      const seconds = (Date.now() - started) / 1_000;
      figures.push(`docker stop ${name}: ${seconds.toFixed(1)} s (grace ${grace} s)`);
      expect(inspect(id, '{{.State.ExitCode}}'), name).toBe('0');
      expect(seconds, name).toBeLessThan(grace);
      if (name === 'worker') {
        const audio = await mongo
          .db('reelflux_media')
          .collection('audio.files')
          .countDocuments({ 'metadata.conversionId': video.id });
        expect(audio, 'the running job was finished before the worker exited').toBe(1);
      }
    }
  }, 180_000);

  async function until(done: () => boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      if (Date.now() > deadline) throw new Error(`not so within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }

  async function downloadOf(conversion: Conversion | undefined): Promise<Buffer> {
    const target = join(work, `${uniqueName('dl')}.mp3`);
    await reelflux.download(conversion?.audio ?? { downloadUrl: '' }, target);
    return readFileSync(target);
  }
});
