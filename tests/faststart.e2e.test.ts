import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { isFinalStatus } from '../lib/contracts/conversionStatus.js';
import { spawnStack, type RunningStack } from '../scripts/spawnStack.js';
import { createReelfluxClient } from '../sdk/createReelfluxClient.js';
import { openFaststartUpload } from '../sdk/faststart/openFaststartUpload.js';
import { PASSWORD, signUpToken } from './helpers/authOperations.js';
import { launchTestBrowser } from './helpers/browser.js';
import { conversionUntil } from './helpers/conversionState.js';
import { probeMp3, writeVideo } from './helpers/fixtures.js';
import { postGraphQL } from './helpers/graphql.js';
import { multipartUpload } from './helpers/multipartUpload.js';
import { startThrottledProxy, type ThrottledProxy } from './helpers/throttledProxy.js';
import { uniqueName } from './helpers/uniqueName.js';

// The page's session storage, as `page.evaluate` sees it (this file has no DOM types).
declare const sessionStorage: { getItem(key: string): string | null };

interface ConversionView {
  id: string;
  status: string;
  audio: { durationSeconds: number; downloadUrl: string } | null;
}

/** Upload speed: a 1 MB file takes a few seconds, so its conversion can follow it. */
const BYTES_PER_SECOND = 300_000;

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

/** For the record, not a timed assertion: from the upload's answer to SUCCEEDED seen. */
const logWait = (what: string, answered: number) =>
  console.log(
    `${what}: SUCCEEDED ${((performance.now() - answered) / 1000).toFixed(2)} s after the answer`,
  );

/**
 * A phone's video (MOV, H.264 + AAC, moov last) sent by the SDK arrives in faststart order and
 * converts while it arrives (realtime); the same file sent raw still converts, once stored.
 */
describe('faststart uploads on the realtime path', () => {
  const infra = inject('infra');
  const prefix = `${uniqueName('fs')}_`;
  const phone = join(mkdtempSync(join(tmpdir(), 'reelflux-faststart-')), 'phone.mov');
  let stack: RunningStack;
  let proxy: ThrottledProxy;
  let token: string;

  beforeAll(async () => {
    writeVideo(infra.ffmpegPath, phone, 60, { container: 'mov' });
    stack = await spawnStack(infra, prefix, {
      LOG_LEVEL: 'info',
      // Realtime begins after the first GridFS chunk, well before the upload ends.
      REALTIME_MIN_BYTES: String(256 * 1024),
    });
    proxy = await startThrottledProxy(Number(new URL(stack.routerUrl).port), BYTES_PER_SECOND);
    token = await signUpToken(stack.graphqlUrl);
  });
  afterAll(async () => {
    await proxy?.close();
    await stack?.stop();
  });

  const finished = (id: string) =>
    conversionUntil<ConversionView>(stack.graphqlUrl, token, id, {
      fields: 'id status audio { durationSeconds downloadUrl }',
      done: (c) => isFinalStatus(c.status),
      timeoutMs: 120_000,
    });
  const durationOf = async (c: ConversionView) =>
    probeMp3(
      infra.ffprobePath,
      Buffer.from(await (await fetch(c.audio?.downloadUrl ?? '')).arrayBuffer()),
    ).durationSeconds;

  it('the SDK sends a moov-last MOV moov first; it converts on the realtime path', async () => {
    const before = await conversionPaths(stack.internalUrls.worker);
    const client = createReelfluxClient({ url: `http://127.0.0.1:${proxy.port}`, token });
    const video = await client.uploadVideo(phone);
    // What is stored is the remux: its sha256 is that of the bytes sent, not of the file.
    const remux = await openFaststartUpload(phone);
    const sent = createHash('sha256');
    for await (const chunk of remux.stream) sent.update(chunk as Buffer);
    expect(video).toMatchObject({ bytes: remux.size, sha256: sent.digest('hex') });
    expect(video.sha256).not.toBe(createHash('sha256').update(readFileSync(phone)).digest('hex'));

    const answered = performance.now();
    const done = await finished(video.id);
    logWait('SDK, faststart', answered);
    expect(done.status).toBe('SUCCEEDED');
    expect(Math.abs((await durationOf(done)) - 60)).toBeLessThanOrEqual(0.1);
    const after = await conversionPaths(stack.internalUrls.worker);
    expect((after.realtime ?? 0) - (before.realtime ?? 0)).toBe(1);
    expect(stack.output()).toMatch(
      new RegExp(`"conversionId":"${video.id}".*"path":"realtime".*"conversion stages"`),
    );
  });

  it('the resumable upload (convertFile, reelflux convert) sends it moov first too', async () => {
    const before = await conversionPaths(stack.internalUrls.worker);
    const client = createReelfluxClient({ url: `http://127.0.0.1:${proxy.port}`, token });
    let noted = false;
    const video = await client.uploadResumable(phone, {}, { onFaststart: () => (noted = true) });
    const remux = await openFaststartUpload(phone);
    const sent = createHash('sha256');
    for await (const chunk of remux.stream) sent.update(chunk as Buffer);
    expect(noted).toBe(true);
    expect(video).toMatchObject({ bytes: remux.size, sha256: sent.digest('hex') });
    const done = await finished(video.id);
    expect(done.status).toBe('SUCCEEDED');
    expect(Math.abs((await durationOf(done)) - 60)).toBeLessThanOrEqual(0.1);
    const after = await conversionPaths(stack.internalUrls.worker);
    expect((after.realtime ?? 0) - (before.realtime ?? 0)).toBe(1);
  });

  it('the web page sends it moov first too (in Chromium), and it converts on the realtime path', async () => {
    const browser = await launchTestBrowser();
    try {
      const page = await browser.context.newPage();
      const errors: string[] = [];
      page.on('console', (message) => {
        if (message.type() === 'error') errors.push(message.text());
      });
      page.on('pageerror', (error) => errors.push(String(error)));
      await page.goto(stack.routerUrl);
      await page.getByLabel('Email').fill(`${uniqueName('fsweb')}@example.com`);
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign up' }).click();
      await page.getByRole('heading', { name: 'Your videos' }).waitFor();
      // Slowed as a phone's network is, so the conversion can follow the upload.
      const cdp = await browser.context.newCDPSession(page);
      await cdp.send('Network.enable');
      await cdp.send('Network.emulateNetworkConditions', {
        offline: false,
        latency: 0,
        downloadThroughput: -1,
        uploadThroughput: BYTES_PER_SECOND,
      });
      const before = await conversionPaths(stack.internalUrls.worker);
      await page.getByLabel('Video', { exact: true }).setInputFiles(phone);
      await page.getByRole('button', { name: 'Upload and convert' }).click();
      const item = page
        .getByRole('listitem')
        .filter({ has: page.getByRole('heading', { name: 'phone.mov' }) });
      await expect
        .poll(() => item.locator('[data-status]').getAttribute('data-status'), { timeout: 60_000 })
        .toBe('SUCCEEDED');

      const pageToken = await page.evaluate(
        () =>
          (JSON.parse(sessionStorage.getItem('reelflux.session') ?? '{}') as { token: string })
            .token,
      );
      const { body } = await postGraphQL<{
        videos: { edges: { node: { id: string; bytes: number; sha256: string } }[] };
      }>(stack.graphqlUrl, '{ videos(first: 1) { edges { node { id bytes sha256 } } } }', {
        token: pageToken,
      });
      const video = body.data?.videos.edges[0]?.node;
      const remux = await openFaststartUpload(phone);
      const sent = createHash('sha256');
      for await (const chunk of remux.stream) sent.update(chunk as Buffer);
      expect(video).toMatchObject({ bytes: remux.size, sha256: sent.digest('hex') });
      const after = await conversionPaths(stack.internalUrls.worker);
      expect((after.realtime ?? 0) - (before.realtime ?? 0)).toBe(1);
      expect(stack.output()).toMatch(
        new RegExp(`"conversionId":"${video?.id}".*"path":"realtime".*"conversion stages"`),
      );
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
    }
  });

  it('the same file sent raw converts too, through the fallback', async () => {
    const before = await conversionPaths(stack.internalUrls.worker);
    const bytes = readFileSync(phone);
    const throttled = Readable.from(
      (async function* () {
        for (let offset = 0; offset < bytes.length; offset += 16_384) {
          yield bytes.subarray(offset, offset + 16_384);
          await sleep((16_384 / BYTES_PER_SECOND) * 1000);
        }
      })(),
    );
    const result = await multipartUpload(stack.graphqlUrl, throttled, {
      token,
      filename: 'raw.mov',
      selection: 'id sha256',
    });
    const video = result.body.data?.uploadVideo as { id: string; sha256: string };
    expect(video.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    const answered = performance.now();
    const done = await finished(video.id);
    logWait('raw, moov last', answered);
    expect(done.status).toBe('SUCCEEDED');
    expect(Math.abs((await durationOf(done)) - 60)).toBeLessThanOrEqual(0.1);
    const after = await conversionPaths(stack.internalUrls.worker);
    expect((after.fallback ?? 0) - (before.fallback ?? 0)).toBe(1);
    expect(stack.output()).toMatch(
      new RegExp(`"conversionId":"${video.id}".*"path":"fallback".*moov\\) after the media data`),
    );
  });
});
