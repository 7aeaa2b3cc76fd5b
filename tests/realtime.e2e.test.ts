import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { MongoClient, ObjectId } from 'mongodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { isFinalStatus } from '../lib/contracts/conversionStatus.js';
import { fromRoot } from '../lib/platform/projectRoot.js';
import type { ProcessName } from '../lib/platform/processPorts.js';
import { freePort, spawnStack, type RunningStack } from '../scripts/spawnStack.js';
import { signUpToken } from './helpers/authOperations.js';
import { conversionUntil } from './helpers/conversionState.js';
import { makeVideo, probeMp3 } from './helpers/fixtures.js';
import { fsckFindings } from './helpers/fsck.js';
import { postGraphQL } from './helpers/graphql.js';
import { multipartUpload, type UploadResult } from './helpers/multipartUpload.js';
import { childPids } from './helpers/processes.js';
import { uniqueName } from './helpers/uniqueName.js';

interface ConversionView {
  id: string;
  status: string;
  attempts: number;
  error: { code: string } | null;
  audio: { bytes: number; durationSeconds: number; downloadUrl: string } | null;
}
const FIELDS = 'id status attempts error { code } audio { bytes durationSeconds downloadUrl }';

/** What a conversion record holds while it runs, read from the store during the upload. */
interface RunningRecord {
  _id: ObjectId;
  status: string;
  progress: number | null;
}

/** `file` sent at `bytesPerSecond`, in 16 KiB pieces; it fails before the piece at which `failAt` says so. */
function throttled(
  file: Buffer,
  bytesPerSecond: number,
  failAt: (offset: number) => boolean = () => false,
): Readable {
  const piece = 16_384;
  return Readable.from(
    (async function* () {
      for (let offset = 0; offset < file.length; offset += piece) {
        if (failAt(offset)) throw new Error('the client went away');
        yield file.subarray(offset, offset + piece);
        await sleep((piece / bytesPerSecond) * 1000);
      }
    })(),
  );
}

/** A worker's `worker_conversions_total` by path. */
async function conversionPaths(workerInternalUrl: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${workerInternalUrl}/metrics`)).text();
  const counts: Record<string, number> = {};
  for (const [, path, value] of text.matchAll(
    /^worker_conversions_total\{[^}]*path="(\w+)"[^}]*\} (\d+)/gm,
  )) {
    counts[path ?? ''] = Number(value);
  }
  return counts;
}

/**
 * Realtime conversion on real processes: uploads are sent slowly through the router, so the
 * conversion runs while the bytes arrive, and what the worker did is read back from the store,
 * the worker's metrics and the MP3 itself.
 */
describe('realtime conversion', () => {
  const infra = inject('infra');
  const prefix = `${uniqueName('rt')}_`;
  const MAX_UPLOAD_BYTES = 3 * 2 ** 20;
  let stack: RunningStack;
  let mongo: MongoClient;
  let token: string;
  /** 60 s, 1.1 MB, its index first. */
  let streamable: Buffer;

  beforeAll(async () => {
    streamable = makeVideo(infra.ffmpegPath, 60, { faststart: true });
    stack = await spawnStack(infra, prefix, {
      WORKER_CONCURRENCY: '2',
      LOG_LEVEL: 'info',
      MAX_RUNNING_CONVERSIONS_PER_USER: '8',
      MAX_UPLOAD_BYTES: String(MAX_UPLOAD_BYTES),
      // Realtime begins after the first GridFS chunk rather than the first MiB, so that each
      // test's cut or stall (at 700 kB, two thirds, 1.2 MB of a 1.5 MB file) falls mid-stream.
      REALTIME_MIN_BYTES: String(256 * 1024),
      WORKER_UPLOAD_STALL_SECONDS: '2',
    });
    mongo = new MongoClient(infra.mongodbUri);
    token = await signUpToken(stack.graphqlUrl);
  });
  afterAll(async () => {
    await mongo?.close();
    await stack?.stop();
  });

  const conversions = () =>
    mongo.db(`${prefix}conversion`).collection<RunningRecord>('conversions');
  const media = () => mongo.db(`${prefix}media`);
  const finished = (id: string, graphqlUrl = stack.graphqlUrl) =>
    conversionUntil<ConversionView>(graphqlUrl, token, id, {
      fields: FIELDS,
      done: (c) => isFinalStatus(c.status),
      timeoutMs: 120_000,
    });

  /**
   * Uploads `source` as `filename` and, while it is still being sent, waits for a conversion of
   * it to be RUNNING with progress past `minProgress` (by media time); `onRunning` is then
   * called, still mid-upload. Returns the upload's answer and what was seen.
   */
  async function uploadWatching(
    source: Readable,
    filename: string,
    options: {
      graphqlUrl?: string;
      minProgress?: number;
      onRunning?: (record: RunningRecord) => void;
    } = {},
  ): Promise<{ result: UploadResult; running: RunningRecord | null }> {
    let answered = false;
    const uploading = multipartUpload(options.graphqlUrl ?? stack.graphqlUrl, source, {
      token,
      filename,
      selection: 'id',
    }).finally(() => (answered = true));
    let running: RunningRecord | null = null;
    // Records are found by filename: the client learns the video's id only from the answer.
    const filenameOf = filename.replace(/\.\w+$/, '');
    while (!answered && !running) {
      running = await conversions().findOne({
        filename: { $in: [filename, filenameOf] },
        status: 'RUNNING',
        progress: { $gt: options.minProgress ?? 0 },
      });
      if (running && !answered) options.onRunning?.(running);
      else running = null;
      await sleep(50);
    }
    return { result: await uploading, running };
  }
  const idOf = (result: UploadResult, log = '') =>
    (result.body.data?.uploadVideo as { id?: string } | undefined)?.id ??
    expect.fail(`${JSON.stringify(result.body)}\n${log}`);
  const mp3Of = async (c: ConversionView) =>
    Buffer.from(await (await fetch(c.audio?.downloadUrl ?? '')).arrayBuffer());

  /** Nothing of the upload named `filename` is left: no record, file, chunk or MP3. */
  async function expectNothingLeftOf(filename: string, seenId: ObjectId | undefined) {
    await expect
      .poll(() => conversions().countDocuments({ filename }), { timeout: 20_000 })
      .toBe(0);
    if (seenId) {
      // The worker removes its partial MP3 once it sees the upload or its conversion gone.
      // The upload's conversion has the video's id; its MP3s are found by it.
      const conversionId = seenId.toHexString();
      const left = async () => ({
        videos: await media().collection('videos').countDocuments({ _id: seenId }),
        'videos.files': await media().collection('videos.files').countDocuments({ _id: seenId }),
        'videos.chunks': await media()
          .collection('videos.chunks')
          .countDocuments({ files_id: seenId }),
        'audio.files': await media()
          .collection('audio.files')
          .countDocuments({ 'metadata.conversionId': conversionId }),
        'audio.chunks': await media().collection('audio.chunks').countDocuments({ conversionId }),
      });
      await expect.poll(left, { timeout: 20_000 }).toEqual({
        videos: 0,
        'videos.files': 0,
        'videos.chunks': 0,
        'audio.files': 0,
        'audio.chunks': 0,
      });
    }
    expect(await fsckFindings({ ...infra, prefix })).toEqual([]);
  }

  it('converts a streamable upload while it arrives: the MP3 is whole, checked and counted', async () => {
    const before = await conversionPaths(stack.internalUrls.worker);
    const { result, running } = await uploadWatching(throttled(streamable, 300_000), 'live.mp4');
    const id = idOf(result);
    // Converting had begun, by media time, before the upload was answered.
    expect(running?._id.toHexString()).toBe(id);
    const done = await finished(id);
    expect(done).toMatchObject({ status: 'SUCCEEDED', attempts: 1, error: null });
    const mp3 = await mp3Of(done);
    const facts = probeMp3(infra.ffprobePath, mp3);
    expect(facts).toMatchObject({ codec: 'mp3', bitrateKbps: 192 });
    expect(Math.abs(facts.durationSeconds - 60)).toBeLessThanOrEqual(0.1);
    // The bytes downloaded are the bytes the worker checked and recorded.
    const stored = await media()
      .collection<{ length: number; metadata: { sha256: string } }>('audio.files')
      .findOne({ 'metadata.conversionId': id });
    expect(mp3.length).toBe(stored?.length);
    expect(createHash('sha256').update(mp3).digest('hex')).toBe(stored?.metadata.sha256);
    const after = await conversionPaths(stack.internalUrls.worker);
    expect((after.realtime ?? 0) - (before.realtime ?? 0)).toBe(1);
    expect(stack.output()).toMatch(
      new RegExp(`"conversionId":"${id}".*"path":"realtime".*"conversion stages"`),
    );
  });

  it('falls back to the stored file for an MP4 with its index last, with the right duration', async () => {
    const indexLast = makeVideo(infra.ffmpegPath, 60);
    const before = await conversionPaths(stack.internalUrls.worker);
    const { result } = await uploadWatching(throttled(indexLast, 300_000), 'index-last.mp4');
    const id = idOf(result);
    const done = await finished(id);
    expect(done).toMatchObject({ status: 'SUCCEEDED', attempts: 1 });
    const facts = probeMp3(infra.ffprobePath, await mp3Of(done));
    expect(Math.abs(facts.durationSeconds - 60)).toBeLessThanOrEqual(0.1);
    const after = await conversionPaths(stack.internalUrls.worker);
    expect((after.fallback ?? 0) - (before.fallback ?? 0)).toBe(1);
    expect(stack.output()).toMatch(
      new RegExp(`"conversionId":"${id}".*"path":"fallback".*moov\\) after the media data`),
    );
  });

  it('never makes an MP3 of a stream that decodes short: fallback, then FAILED', async () => {
    // The index promises 60 s; the media data stops two thirds in.
    const cut = streamable.subarray(0, Math.floor(streamable.length * 0.66));
    const { result } = await uploadWatching(throttled(cut, 300_000), 'short.mp4');
    const id = idOf(result);
    const done = await finished(id);
    expect(done).toMatchObject({ status: 'FAILED', error: { code: 'UNSUPPORTED_MEDIA' } });
    expect(done.audio).toBeNull();
    // It was tried as a stream first, and given up for what ffmpeg said or made.
    expect(stack.output()).toMatch(
      new RegExp(`"conversionId":"${id}","reason":".+","msg":"realtime conversion given up`),
    );
    const chunks = await media().collection('audio.chunks').countDocuments({ conversionId: id });
    expect(chunks).toBe(0);
    expect(await fsckFindings({ ...infra, prefix })).toEqual([]);
  });

  it('an upload cut off mid-stream leaves no MP3, no conversion and nothing for fsck', async () => {
    let seen: ObjectId | undefined;
    const { result, running } = await uploadWatching(
      // Cut once 700 kB are sent and the conversion is seen running, however long that takes
      // on a busy machine.
      throttled(streamable, 300_000, (offset) => offset >= 700_000 && seen !== undefined),
      'cut-off.mp4',
      { onRunning: (record) => (seen = record._id) },
    );
    expect(result.status).toBe(0);
    // The realtime conversion was under way when the client went.
    expect(running).not.toBeNull();
    await expectNothingLeftOf('cut-off.mp4', seen);
  });

  it('an upload that stalls mid-stream gives its worker back, then is converted once it ends', async () => {
    // 1.2 MB at 300 kB/s, then nothing until the conversion is seen set aside, then the rest.
    let resume: () => void = () => undefined;
    const resumed = new Promise<void>((resolve) => (resume = resolve));
    const stalling = Readable.from(
      (async function* () {
        const stallAt = 1_200_000;
        yield* throttled(streamable.subarray(0, stallAt), 300_000);
        await resumed;
        yield streamable.subarray(stallAt);
      })(),
    );
    let setAside: RunningRecord | null = null;
    const watching = (async () => {
      for (;;) {
        setAside = await conversions().findOne({
          filename: { $in: ['stalled.mp4', 'stalled'] },
          status: 'QUEUED',
          attempts: 0,
          awaitingUpload: true,
        });
        if (setAside) return resume();
        await sleep(100);
      }
    })();
    const { result, running } = await uploadWatching(stalling, 'stalled.mp4', {
      minProgress: -1,
    });
    await watching;
    // It ran while the bytes came, and gave its place back without spending the attempt.
    expect(running).not.toBeNull();
    expect(setAside).not.toBeNull();
    const done = await finished(idOf(result));
    expect(done).toMatchObject({ status: 'SUCCEEDED', attempts: 1, error: null });
    expect(Math.abs((done.audio?.durationSeconds ?? 0) - 60)).toBeLessThanOrEqual(0.1);
    expect(stack.output()).toMatch(/sent nothing for 2 s/);
    expect(await fsckFindings({ ...infra, prefix })).toEqual([]);
  });

  it('an upload over the size limit is refused, and its realtime conversion leaves nothing', async () => {
    const big = makeVideo(infra.ffmpegPath, 200, { faststart: true });
    expect(big.length).toBeGreaterThan(MAX_UPLOAD_BYTES);
    let seen: ObjectId | undefined;
    const { result, running } = await uploadWatching(throttled(big, 600_000), 'too-big.mp4', {
      onRunning: (record) => (seen = record._id),
    });
    expect(result.body.errors?.[0]?.extensions?.code).toBe('PAYLOAD_TOO_LARGE');
    expect(running).not.toBeNull();
    await expectNothingLeftOf('too-big.mp4', seen);
  });

  it('a realtime conversion cancelled mid-upload stops, and the upload is kept without an MP3', async () => {
    let cancelled: Promise<unknown> | undefined;
    const { result, running } = await uploadWatching(throttled(streamable, 300_000), 'cancel.mp4', {
      onRunning: (record) => {
        cancelled = postGraphQL(
          stack.graphqlUrl,
          'mutation ($id: ID!) { cancelConversion(id: $id) { status } }',
          { token, variables: { id: record._id.toHexString() } },
        );
      },
    });
    expect(running).not.toBeNull();
    expect((await cancelled) as { body: unknown }).toMatchObject({
      body: { data: { cancelConversion: { status: 'CANCELLED' } } },
    });
    const id = idOf(result);
    expect(await finished(id)).toMatchObject({ status: 'CANCELLED', audio: null });
    await expect
      .poll(() => media().collection('audio.chunks').countDocuments({ conversionId: id }), {
        timeout: 10_000,
      })
      .toBe(0);
    expect(await fsckFindings({ ...infra, prefix })).toEqual([]);
  });

  it('a worker killed mid-realtime: the job is run again and SUCCEEDED once', async () => {
    const { result, running } = await uploadWatching(throttled(streamable, 200_000), 'killed.mp4', {
      minProgress: 0.05,
      onRunning: () => {
        const [worker] = childPids(stack.launcher.pid ?? 0, 'worker/main.js');
        process.kill(worker ?? 0, 'SIGKILL');
      },
    });
    expect(running).not.toBeNull();
    const id = idOf(result);
    const done = await finished(id);
    expect(done).toMatchObject({ status: 'SUCCEEDED', attempts: 2 });
    // One MP3, made of exactly its own chunks: nothing of the killed run is left beside it.
    const mp3 = await mp3Of(done);
    const stored = await media()
      .collection<{ length: number; chunkSize: number; metadata: { sha256: string } }>(
        'audio.files',
      )
      .findOne({ 'metadata.conversionId': id });
    expect(await media().collection('audio.chunks').countDocuments({ conversionId: id })).toBe(
      Math.ceil((stored?.length ?? 0) / (stored?.chunkSize ?? 1)),
    );
    expect(createHash('sha256').update(mp3).digest('hex')).toBe(stored?.metadata.sha256);
    const facts = probeMp3(infra.ffprobePath, mp3);
    expect(Math.abs(facts.durationSeconds - 60)).toBeLessThanOrEqual(0.1);
    expect(await fsckFindings({ ...infra, prefix })).toEqual([]);
    expect(stack.output()).toMatch(/worker +\| exited \(SIGKILL\); restarting in 1 s/);
  });

  describe('with two media processes and two workers', () => {
    const extra: ChildProcess[] = [];
    let secondRouter: string;
    let secondWorker: string;
    let secondMediaLog = '';

    /**
     * One more process of the stack, on ports of its own, waited for until ready; resolves
     * with its internal URL (health, readiness, metrics).
     */
    async function startProcess(main: string[], env: NodeJS.ProcessEnv, name: ProcessName) {
      const internalUrl = `http://127.0.0.1:${await freePort()}`;
      const child = spawn(process.execPath, [fromRoot('dist', ...main)], {
        env: {
          ...stack.env,
          LOG_LEVEL: 'info',
          [`${name.toUpperCase()}_INTERNAL_PORT`]: new URL(internalUrl).port,
          ...env,
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      extra.push(child);
      const deadline = Date.now() + 30_000;
      while ((await fetch(`${internalUrl}/readyz`).catch(() => null))?.status !== 200) {
        if (Date.now() > deadline) throw new Error(`${main.join('/')} never became ready`);
        await sleep(200);
      }
      return { child, internalUrl };
    }

    beforeAll(async () => {
      const [mediaPort, routerPort] = [await freePort(), await freePort()];
      const secondMedia = `http://127.0.0.1:${mediaPort}`;
      const media2 = await startProcess(
        ['subgraphs', 'media', 'main.js'],
        { MEDIA_PORT: String(mediaPort), AUTH_URL: stack.subgraphUrls.auth },
        'media',
      );
      media2.child.stdout?.on('data', (chunk: Buffer) => (secondMediaLog += chunk.toString()));
      secondRouter = `http://127.0.0.1:${routerPort}`;
      await startProcess(
        ['router', 'main.js'],
        {
          ROUTER_PORT: String(routerPort),
          AUTH_URL: stack.subgraphUrls.auth,
          MEDIA_URL: secondMedia,
          CONVERSION_URL: stack.subgraphUrls.conversion,
          NOTIFICATION_URL: stack.subgraphUrls.notification,
        },
        'router',
      );
      secondWorker = (await startProcess(['worker', 'main.js'], {}, 'worker')).internalUrl;
    });
    afterAll(() => {
      for (const child of extra) child.kill('SIGTERM');
    });

    it('converts uploads to either media process in realtime, on either worker', async () => {
      const realtimeCount = async () =>
        ((await conversionPaths(stack.internalUrls.worker)).realtime ?? 0) +
        ((await conversionPaths(secondWorker)).realtime ?? 0);
      const before = await realtimeCount();
      const [first, second] = await Promise.all([
        uploadWatching(throttled(streamable, 300_000), 'first-media.mp4'),
        uploadWatching(throttled(streamable, 300_000), 'second-media.mp4', {
          graphqlUrl: `${secondRouter}/graphql`,
        }),
      ]);
      const ids = [idOf(first.result), idOf(second.result, secondMediaLog)];
      // The second upload went through the second media process.
      expect(secondMediaLog).toContain(ids[1]);
      expect(secondMediaLog).not.toContain(ids[0]);
      for (const id of ids) {
        const done = await finished(id);
        expect(done, id).toMatchObject({ status: 'SUCCEEDED', attempts: 1 });
        const facts = probeMp3(infra.ffprobePath, await mp3Of(done));
        expect(Math.abs(facts.durationSeconds - 60)).toBeLessThanOrEqual(0.1);
      }
      expect((await realtimeCount()) - before).toBe(2);
    });
  });
});
