import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { ObjectId } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromRoot } from '../lib/platform/projectRoot.js';
import {
  findPendingUpload,
  rememberPendingUpload,
  uploadFingerprint,
} from '../sdk/cli/pendingUploads.js';
import { freePort } from '../scripts/spawnStack.js';
import { signUpToken } from './helpers/authOperations.js';
import { conversionUntil } from './helpers/conversionState.js';
import { makeVideo } from './helpers/fixtures.js';
import { fsckFindings } from './helpers/fsck.js';
import { postGraphQL } from './helpers/graphql.js';
import { startTcpProxy } from './helpers/tcpProxy.js';
import { createUpload, patchUpload, tusRequest, uploadMetadata } from './helpers/tusRequests.js';
import { useStack } from './helpers/useStack.js';

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** `file` from `from`, in 16 KiB pieces at `bytesPerSecond`; `onPiece` sees each end offset. */
function paced(
  file: Buffer,
  from: number,
  bytesPerSecond: number,
  onPiece: (end: number) => void = () => undefined,
): Readable {
  const piece = 16_384;
  return Readable.from(
    (async function* () {
      for (let offset = from; offset < file.length; offset += piece) {
        const end = Math.min(file.length, offset + piece);
        yield file.subarray(offset, end);
        onPiece(end);
        await sleep((piece / bytesPerSecond) * 1000);
      }
    })(),
  );
}

/** A worker's `worker_conversions_total` by path (realtime, fallback, stored). */
async function conversionPaths(workerInternalUrl: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${workerInternalUrl}/metrics`)).text();
  const counts: Record<string, number> = {};
  for (const [, path, value] of text.matchAll(
    /^worker_conversions_total\{[^}]*path="(\w+)"[^}]*\} (\d+)/gm,
  )) {
    counts[path ?? ''] = (counts[path ?? ''] ?? 0) + Number(value);
  }
  return counts;
}

interface Converted {
  status: string;
  attempts: number;
  error: { code: string; message: string } | null;
  audio: { durationSeconds: number } | null;
}

/** The conversion of video `id`, once final. */
async function converted(graphqlUrl: string, token: string, videoId: string): Promise<Converted> {
  let conversionId: string | undefined;
  const deadline = Date.now() + 60_000;
  while (!conversionId) {
    const answer = await postGraphQL<{ video: { latestConversion: { id: string } | null } | null }>(
      graphqlUrl,
      'query ($id: ID!) { video(id: $id) { latestConversion { id } } }',
      { token, variables: { id: videoId } },
    );
    conversionId = answer.body.data?.video?.latestConversion?.id;
    if (Date.now() > deadline) throw new Error(`no conversion for ${videoId}`);
    if (!conversionId) await sleep(200);
  }
  return conversionUntil<Converted>(graphqlUrl, token, conversionId, {
    fields: 'status attempts error { code message } audio { durationSeconds }',
    timeoutMs: 120_000,
  });
}

/**
 * Resumable uploads (tus 1.0 at /uploads/) through the router, against real processes: a
 * connection cut mid-upload and resumed, concurrent requests, ownership, the quota at creation,
 * and a plain curl upload.
 */
describe('resumable uploads (tus)', () => {
  const suite = useStack('tus', {
    MAX_UPLOAD_BYTES: String(8 * 2 ** 20),
    MAX_STORED_BYTES_PER_USER: String(12 * 2 ** 20),
    REALTIME_MIN_BYTES: String(256 * 1024),
    WORKER_UPLOAD_STALL_SECONDS: '2',
  });
  let token: string;
  /** 60 s, about 1.1 MB, its index first. */
  let streamable: Buffer;
  /** The same as ffmpeg writes it by default: the index last. */
  let indexLast: Buffer;

  beforeAll(async () => {
    streamable = makeVideo(suite.infra.ffmpegPath, 60, { faststart: true });
    indexLast = makeVideo(suite.infra.ffmpegPath, 20);
    token = await signUpToken(suite.stack.graphqlUrl);
  });

  it('answers OPTIONS with the protocol and its extensions', async () => {
    const answer = await tusRequest(`${suite.stack.routerUrl}/uploads/`, { method: 'OPTIONS' });
    expect(answer.status).toBe(204);
    expect(answer.headers['tus-version']).toBe('1.0.0');
    expect(answer.headers['tus-extension']).toBe(
      'creation,creation-with-upload,expiration,termination,checksum',
    );
    expect(answer.headers['tus-max-size']).toBe(String(8 * 2 ** 20));
  });

  it('refuses each bad creation with its own status and code', async () => {
    const url = `${suite.stack.routerUrl}/uploads/`;
    const create = (headers: Record<string, string>, withToken = true) =>
      tusRequest(url, { method: 'POST', ...(withToken ? { token } : {}), headers });
    const cases: [Record<string, string>, number, string][] = [
      [{}, 400, 'BAD_REQUEST'],
      [{ 'upload-defer-length': '1' }, 400, 'BAD_REQUEST'],
      [{ 'upload-length': 'ten' }, 400, 'BAD_REQUEST'],
      [{ 'upload-length': String(9 * 2 ** 20) }, 413, 'PAYLOAD_TOO_LARGE'],
      [{ 'upload-length': '0' }, 415, 'UNSUPPORTED_MEDIA'],
      [{ 'upload-length': '10', 'upload-metadata': 'filename !!' }, 400, 'BAD_REQUEST'],
      [
        { 'upload-length': '10', 'upload-metadata': uploadMetadata({ mp3: '{"bitrateKbps":5}' }) },
        400,
        'BAD_USER_INPUT',
      ],
      [{ 'upload-length': '10', 'tus-resumable': '0.2.2' }, 412, 'TUS_VERSION_UNSUPPORTED'],
    ];
    for (const [headers, status, code] of cases) {
      const answer = await create(headers);
      expect({ headers, status: answer.status, code: answer.code }).toEqual({
        headers,
        status,
        code,
      });
    }
    const anonymous = await create({ 'upload-length': '10' }, false);
    expect([anonymous.status, anonymous.code]).toEqual([401, 'UNAUTHENTICATED']);
  });

  it('refuses an upload over the storage quota at creation, with the quota code', async () => {
    const answer = await tusRequest(`${suite.stack.routerUrl}/uploads/`, {
      method: 'POST',
      token: await signUpToken(suite.stack.graphqlUrl),
      headers: { 'upload-length': String(4 * 2 ** 20) },
    });
    expect([answer.status, answer.code]).toEqual([201, undefined]);
    const second = await tusRequest(`${suite.stack.routerUrl}/uploads/`, {
      method: 'POST',
      token,
      headers: { 'upload-length': String(7 * 2 ** 20) },
    });
    expect(second.status).toBe(201);
    // 7 MiB held already of 12: another 6 MiB would pass the quota.
    const over = await tusRequest(`${suite.stack.routerUrl}/uploads/`, {
      method: 'POST',
      token,
      headers: { 'upload-length': String(6 * 2 ** 20) },
    });
    expect([over.status, over.code]).toEqual([403, 'QUOTA_EXCEEDED']);
    // Terminating the first gives its room back.
    const url = new URL(String(second.headers.location), suite.stack.routerUrl).href;
    expect((await tusRequest(url, { method: 'DELETE', token })).status).toBe(204);
    const again = await tusRequest(`${suite.stack.routerUrl}/uploads/`, {
      method: 'POST',
      token,
      headers: { 'upload-length': String(6 * 2 ** 20) },
    });
    expect(again.status).toBe(201);
    const againUrl = new URL(String(again.headers.location), suite.stack.routerUrl).href;
    expect((await tusRequest(againUrl, { method: 'DELETE', token })).status).toBe(204);
  });

  it("answers 404 to HEAD, PATCH and DELETE of another user's upload", async () => {
    const url = await createUpload(suite.stack.routerUrl, token, streamable.length);
    const stranger = await signUpToken(suite.stack.graphqlUrl);
    expect((await tusRequest(url, { method: 'HEAD', token: stranger })).status).toBe(404);
    const patched = await patchUpload(url, stranger, 0, streamable.subarray(0, 1000));
    expect([patched.status, patched.code]).toEqual([404, 'NOT_FOUND']);
    const deleted = await tusRequest(url, { method: 'DELETE', token: stranger });
    expect([deleted.status, deleted.code]).toEqual([404, 'NOT_FOUND']);
    // Still there for its owner, and gone once terminated.
    expect((await tusRequest(url, { method: 'HEAD', token })).headers['upload-offset']).toBe('0');
    expect((await tusRequest(url, { method: 'DELETE', token })).status).toBe(204);
    expect((await tusRequest(url, { method: 'HEAD', token })).status).toBe(404);
  });

  it('refuses a PATCH at the wrong offset (409), of the wrong type (415), or past the length', async () => {
    const url = await createUpload(suite.stack.routerUrl, token, 2000);
    const wrongOffset = await patchUpload(url, token, 5, streamable.subarray(5, 100));
    expect([wrongOffset.status, wrongOffset.code]).toEqual([409, 'OFFSET_MISMATCH']);
    const wrongType = await tusRequest(url, {
      method: 'PATCH',
      token,
      headers: { 'content-type': 'application/octet-stream', 'upload-offset': '0' },
      body: streamable.subarray(0, 100),
    });
    expect([wrongType.status, wrongType.code]).toEqual([415, 'UNSUPPORTED_CONTENT_TYPE']);
    const tooLong = await patchUpload(url, token, 0, streamable.subarray(0, 3000));
    expect([tooLong.status, tooLong.code]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
    const badSum = await tusRequest(url, {
      method: 'PATCH',
      token,
      headers: {
        'content-type': 'application/offset+octet-stream',
        'upload-offset': '0',
        'upload-checksum': `sha1 ${createHash('sha1').update('other').digest('base64')}`,
      },
      body: streamable.subarray(0, 1000),
    });
    expect([badSum.status, badSum.code]).toEqual([460, 'CHECKSUM_MISMATCH']);
    expect((await tusRequest(url, { method: 'HEAD', token })).headers['upload-offset']).toBe('0');
    expect((await tusRequest(url, { method: 'DELETE', token })).status).toBe(204);
  });

  it('lets one of two concurrent PATCHes to one upload through and refuses the other', async () => {
    const url = await createUpload(suite.stack.routerUrl, token, streamable.length);
    const [first, second] = await Promise.all([
      patchUpload(url, token, 0, paced(streamable, 0, 2_000_000), streamable.length),
      sleep(100).then(() =>
        patchUpload(url, token, 0, paced(streamable, 0, 2_000_000), streamable.length),
      ),
    ]);
    const statuses = [first.status, second.status].sort();
    expect(statuses[0]).toBe(204);
    expect([409, 423]).toContain(statuses[1]);
    const videoId = url.split('/').at(-1) ?? '';
    expect(await converted(suite.stack.graphqlUrl, token, videoId)).toMatchObject({
      status: 'SUCCEEDED',
    });
  });

  it('resumes an upload whose connection was cut at 40 %, and converts it once', async () => {
    const proxy = await startTcpProxy(Number(new URL(suite.stack.routerUrl).port));
    const viaProxy = `http://127.0.0.1:${proxy.port}`;
    try {
      const url = await createUpload(viaProxy, token, streamable.length, {
        filename: 'cut.mp4',
        mp3: JSON.stringify({ bitrateKbps: 128 }),
      });
      const cutAt = Math.floor(streamable.length * 0.4);
      let cut = false;
      const broken = await patchUpload(
        url,
        token,
        0,
        paced(streamable, 0, 1_000_000, (end) => {
          if (end >= cutAt && !cut) {
            cut = true;
            proxy.cut();
          }
        }),
        streamable.length,
      ).catch((error: unknown) => error);
      expect(broken).toBeInstanceOf(Error);
      proxy.restore();
      // The server keeps what arrived: whole chunks in the bucket, the rest in the upload's tail.
      let offset = 0;
      const deadline = Date.now() + 10_000;
      while (offset === 0 && Date.now() < deadline) {
        const head = await tusRequest(url, { method: 'HEAD', token });
        offset = Number(head.headers['upload-offset']);
        await sleep(200);
      }
      expect(offset).toBeGreaterThan(0);
      expect(offset).toBeLessThanOrEqual(cutAt);
      const rest = await patchUpload(
        url,
        token,
        offset,
        streamable.subarray(offset),
        streamable.length - offset,
      );
      expect([rest.status, rest.headers['upload-offset']]).toEqual([
        204,
        String(streamable.length),
      ]);

      const videoId = url.split('/').at(-1) ?? '';
      const media = suite.database('media');
      const record = await media.collection('videos').findOne({ _id: new ObjectId(videoId) });
      expect(record).toMatchObject({ sha256: sha256(streamable), bytes: streamable.length });
      const chunks = await media
        .collection<{ n: number; data: { buffer: Uint8Array } }>('videos.chunks')
        .find({ files_id: new ObjectId(videoId) })
        .sort({ n: 1 })
        .toArray();
      const stored = Buffer.concat(chunks.map((chunk) => Buffer.from(chunk.data.buffer)));
      expect(sha256(stored)).toBe(sha256(streamable));
      const done = await converted(suite.stack.graphqlUrl, token, videoId);
      expect(done).toMatchObject({ status: 'SUCCEEDED', attempts: 1 });
      expect(Math.abs((done.audio?.durationSeconds ?? 0) - 60)).toBeLessThanOrEqual(0.2);
      // HEAD after the end still answers the whole length, for a client that missed it.
      const head = await tusRequest(url, { method: 'HEAD', token });
      expect(head.headers['upload-offset']).toBe(String(streamable.length));
    } finally {
      await proxy.close();
    }
  });

  it('converts an index-last MP4 sent raw by curl in one creation request', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'reelflux-tus-')), 'clip.mp4');
    writeFileSync(path, indexLast);
    const out = execFileSync(
      'curl',
      [
        '-sS',
        '-i',
        '-X',
        'POST',
        '-H',
        `Authorization: Bearer ${token}`,
        '-H',
        'Tus-Resumable: 1.0.0',
        '-H',
        `Upload-Length: ${indexLast.length}`,
        '-H',
        `Upload-Metadata: ${uploadMetadata({ filename: 'phone.mp4' })}`,
        '-H',
        'Content-Type: application/offset+octet-stream',
        '--data-binary',
        `@${path}`,
        `${suite.stack.routerUrl}/uploads/`,
      ],
      { encoding: 'utf8' },
    );
    expect(out).toMatch(/^HTTP\/1\.1 201/);
    expect(out).toMatch(new RegExp(`upload-offset: ${indexLast.length}`, 'i'));
    const videoId = /location: \/uploads\/([0-9a-f]{24})/i.exec(out)?.[1] ?? '';
    const done = await converted(suite.stack.graphqlUrl, token, videoId);
    expect(done).toMatchObject({ status: 'SUCCEEDED' });
    expect(Math.abs((done.audio?.durationSeconds ?? 0) - 20)).toBeLessThanOrEqual(0.2);
    expect(await fsckFindings({ ...suite.infra, prefix: suite.prefix })).toEqual([]);
  });

  it('converts a tus upload as it arrives across a short pause, and after a long one once it ends', async () => {
    // A user of its own: the MP3s of the tests above fill the first one's 12 MiB.
    const token = await signUpToken(suite.stack.graphqlUrl);
    const before = await conversionPaths(suite.stack.internalUrls.worker);
    const half = Math.floor(streamable.length / 2);
    /** Half the file at 1 MB/s, a pause, then the rest. */
    const sendWithPause = async (pauseMs: number) => {
      const url = await createUpload(suite.stack.routerUrl, token, streamable.length);
      const first = await patchUpload(
        url,
        token,
        0,
        paced(streamable.subarray(0, half), 0, 1_000_000),
        half,
      );
      expect(first.status).toBe(204);
      await sleep(pauseMs);
      const rest = await patchUpload(
        url,
        token,
        half,
        streamable.subarray(half),
        streamable.length - half,
      );
      expect(rest.status).toBe(204);
      return converted(suite.stack.graphqlUrl, token, url.split('/').at(-1) ?? '');
    };
    const short = await sendWithPause(300);
    expect(short).toMatchObject({ status: 'SUCCEEDED', attempts: 1 });
    const afterShort = await conversionPaths(suite.stack.internalUrls.worker);
    // Followed as it arrived, across two requests.
    expect((afterShort.realtime ?? 0) - (before.realtime ?? 0)).toBe(1);
    // Longer than WORKER_UPLOAD_STALL_SECONDS (2 s): the job is handed back, then converts once.
    const long = await sendWithPause(4_000);
    expect({ status: long.status, error: long.error }).toEqual({
      status: 'SUCCEEDED',
      error: null,
    });
    expect(Math.abs((long.audio?.durationSeconds ?? 0) - 60)).toBeLessThanOrEqual(0.2);
  });

  it('lets `reelflux convert --resume` go on with an upload a stopped run left', async () => {
    const token = await signUpToken(suite.stack.graphqlUrl);
    const work = mkdtempSync(join(tmpdir(), 'reelflux-cli-'));
    const path = join(work, 'left.mp4');
    writeFileSync(path, streamable);
    const routerUrl = suite.stack.routerUrl;
    // What a run killed at 40 % leaves: the upload on the server, its URL in the state dir.
    const url = await createUpload(routerUrl, token, streamable.length, { filename: 'left.mp4' });
    const part = Math.floor(streamable.length * 0.4);
    expect((await patchUpload(url, token, 0, streamable.subarray(0, part), part)).status).toBe(204);
    const env = { REELFLUX_CONFIG_DIR: join(work, 'config') };
    const fingerprint = await uploadFingerprint(path, routerUrl);
    await rememberPendingUpload(fingerprint, { url, path, server: routerUrl }, env);

    const child = spawn(
      process.execPath,
      [fromRoot('dist', 'sdk', 'cli', 'bin.js'), 'convert', path, '--resume', '--json'],
      {
        cwd: work,
        env: {
          PATH: process.env.PATH ?? '',
          HOME: work,
          REELFLUX_URL: routerUrl,
          REELFLUX_TOKEN: token,
          ...env,
        },
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise((resolve) => child.on('exit', resolve));
    expect({ code, stderr }).toMatchObject({ code: 0 });
    const result = JSON.parse(stdout) as { videoId: string; status: string };
    // The same upload, gone on from where it stood: no second one.
    expect(result).toMatchObject({ videoId: url.split('/').at(-1), status: 'SUCCEEDED' });
    const record = await suite
      .database('media')
      .collection('videos')
      .findOne({ _id: new ObjectId(result.videoId) });
    expect(record).toMatchObject({ sha256: sha256(streamable) });
    expect(await findPendingUpload(fingerprint, env)).toBeUndefined();
  });

  describe('with a second media process behind a second router', () => {
    const extra: ChildProcess[] = [];
    let secondRouter: string;
    let secondMediaLog = '';

    /** One more process of the stack on ports of its own, waited for until ready. */
    async function startProcess(main: string[], env: NodeJS.ProcessEnv, name: string) {
      const internalUrl = `http://127.0.0.1:${await freePort()}`;
      const child = spawn(process.execPath, [fromRoot('dist', ...main)], {
        env: {
          ...suite.stack.env,
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
      return child;
    }

    beforeAll(async () => {
      const [mediaPort, routerPort] = [await freePort(), await freePort()];
      const urls = suite.stack.subgraphUrls;
      const media2 = await startProcess(
        ['subgraphs', 'media', 'main.js'],
        { MEDIA_PORT: String(mediaPort), AUTH_URL: urls.auth },
        'media',
      );
      media2.stdout?.on('data', (chunk: Buffer) => (secondMediaLog += chunk.toString()));
      secondRouter = `http://127.0.0.1:${routerPort}`;
      await startProcess(
        ['router', 'main.js'],
        {
          ROUTER_PORT: String(routerPort),
          AUTH_URL: urls.auth,
          MEDIA_URL: `http://127.0.0.1:${mediaPort}`,
          CONVERSION_URL: urls.conversion,
          NOTIFICATION_URL: urls.notification,
        },
        'router',
      );
    });
    afterAll(() => {
      for (const child of extra) child.kill('SIGTERM');
    });

    it('resumes on the other media process an upload begun on the first', async () => {
      const token = await signUpToken(suite.stack.graphqlUrl);
      const url = await createUpload(suite.stack.routerUrl, token, streamable.length, {
        filename: 'two-replicas.mp4',
      });
      const id = url.split('/').at(-1) ?? '';
      const part = Math.floor(streamable.length * 0.4);
      const first = await patchUpload(url, token, 0, streamable.subarray(0, part), part);
      expect([first.status, first.headers['upload-offset']]).toEqual([204, String(part)]);
      const elsewhere = `${secondRouter}/uploads/${id}`;
      const head = await tusRequest(elsewhere, { method: 'HEAD', token });
      expect(head.headers['upload-offset']).toBe(String(part));
      const rest = await patchUpload(
        elsewhere,
        token,
        part,
        streamable.subarray(part),
        streamable.length - part,
      );
      expect([rest.status, rest.headers['upload-offset']]).toEqual([
        204,
        String(streamable.length),
      ]);
      // The second media process made it a video.
      expect(secondMediaLog).toContain(id);
      const record = await suite
        .database('media')
        .collection('videos')
        .findOne({ _id: new ObjectId(id) });
      expect(record).toMatchObject({ sha256: sha256(streamable), bytes: streamable.length });
      const done = await converted(suite.stack.graphqlUrl, token, id);
      expect(done).toMatchObject({ status: 'SUCCEEDED', attempts: 1 });
      expect(Math.abs((done.audio?.durationSeconds ?? 0) - 60)).toBeLessThanOrEqual(0.2);
    });
  });
});

/** Unfinished uploads expire: the janitor takes their chunks, their record and their room. */
describe('resumable uploads that expire', () => {
  const suite = useStack('tusexpiry', { RESUMABLE_UPLOAD_EXPIRY_SECONDS: '3' });

  it("removes an expired upload's chunks and gives its room back, leaving fsck clean", async () => {
    const token = await signUpToken(suite.stack.graphqlUrl);
    const video = makeVideo(suite.infra.ffmpegPath, 30);
    const url = await createUpload(suite.stack.routerUrl, token, video.length);
    const id = new ObjectId(url.split('/').at(-1));
    const part = 600_000;
    const sent = await patchUpload(url, token, 0, video.subarray(0, part), part);
    expect(sent.status).toBe(204);
    const expires = Date.parse(String(sent.headers['upload-expires']));
    expect(expires).toBeGreaterThan(Date.now());
    expect(expires).toBeLessThanOrEqual(Date.now() + 3_000);
    const media = suite.database('media');
    const chunks = () => media.collection('videos.chunks').countDocuments({ files_id: id });
    expect(await chunks()).toBe(2);
    await sleep(3_100);
    // Expired and not yet collected: gone for its owner's requests.
    const late = await patchUpload(url, token, part, video.subarray(part, part + 1000), 1000);
    expect([410, 404]).toContain(late.status);
    // Collected: chunks, then the upload's record (HEAD: 410 until then, 404 after).
    const head = async () => (await tusRequest(url, { method: 'HEAD', token })).status;
    const deadline = Date.now() + 20_000;
    while (((await chunks()) > 0 || (await head()) !== 404) && Date.now() < deadline) {
      await sleep(250);
    }
    expect(await chunks()).toBe(0);
    expect(await head()).toBe(404);
    expect(
      await media
        .collection('storage_reservations')
        .countDocuments({ _id: `upload:${id.toHexString()}` } as never),
    ).toBe(0);
    expect(await media.collection('uploads_in_progress').countDocuments({ _id: id })).toBe(0);
    expect(await fsckFindings({ ...suite.infra, prefix: suite.prefix })).toEqual([]);
  });
});
