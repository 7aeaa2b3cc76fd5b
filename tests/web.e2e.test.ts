import { createHash } from 'node:crypto';
import { get, type IncomingHttpHeaders } from 'node:http';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { AxeBuilder } from '@axe-core/playwright';
import { MongoClient } from 'mongodb';
import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { fromRoot } from '../lib/platform/projectRoot.js';
import { spawnStack, type RunningStack } from '../scripts/spawnStack.js';
import { PASSWORD } from './helpers/authOperations.js';
import { launchTestBrowser, type TestBrowser } from './helpers/browser.js';
import { makeImage, makeLongAudio, makeVideo, mp4Shaped, probeMp3 } from './helpers/fixtures.js';
import { postGraphQL } from './helpers/graphql.js';
import { readMail } from './helpers/mailpit.js';
import { uploadVideoId } from './helpers/multipartUpload.js';
import { childPids } from './helpers/processes.js';
import { uniqueName } from './helpers/uniqueName.js';
import { startWebhookReceiver } from './helpers/webhookReceiver.js';

// The page's globals, as the functions run inside it by `page.evaluate` see them (this file
// is compiled for Node, without the DOM's types).
declare const document: {
  activeElement: {
    id: string;
    textContent: string | null;
    getAttribute(name: string): string | null;
  } | null;
  documentElement: { scrollWidth: number };
};
declare const window: { innerWidth: number };
interface PageNotification {
  title: string;
  body: string;
  data: { url?: string } | null;
}
interface PageRegistration {
  active: { scriptURL: string } | null;
  getNotifications(): Promise<PageNotification[]>;
}
declare const navigator: {
  serviceWorker: { getRegistration(): Promise<PageRegistration | undefined> };
};
declare const sessionStorage: { getItem(key: string): string | null };
declare const DataTransfer: new () => { items: { add(file: unknown): void } };
interface PageAudio {
  readyState: number;
  duration: number;
  addEventListener(type: 'loadedmetadata' | 'error', listener: () => void): void;
}

/** Screenshots land here, for people to look at after a run (CI keeps the folder). */
const ARTIFACTS = fromRoot('test-results', 'web');

describe('the web app in Chromium', { timeout: 120_000 }, () => {
  const infra = inject('infra');
  const prefix = `${uniqueName('web')}_`;
  const fixtures = mkdtempSync(join(tmpdir(), 'reelflux-web-'));
  let stack: RunningStack;
  let browser: TestBrowser;
  let mongo: MongoClient;
  /** What the page printed as errors, CSP refusals among them; every test ends with none. */
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    // Webhooks may go to a plain-http receiver on loopback, as the Notifications test's does.
    stack = await spawnStack(infra, prefix, {
      WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true',
      WEBHOOK_ALLOW_HTTP: 'true',
    });
    browser = await launchTestBrowser();
    mongo = new MongoClient(infra.mongodbUri);
  }, 240_000);
  afterAll(async () => {
    await mongo?.close();
    await browser?.close();
    await stack?.stop();
  });

  const fixture = (name: string, bytes: Buffer) => {
    const path = join(fixtures, name);
    writeFileSync(path, bytes);
    return path;
  };
  const openPage = async (): Promise<Page> => {
    consoleErrors.length = 0;
    const page = await browser.context.newPage();
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });
    page.on('pageerror', (error) => consoleErrors.push(String(error)));
    await page.goto(stack.routerUrl);
    return page;
  };
  const signUp = async (page: Page, email = `${uniqueName('web')}@example.com`) => {
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign up' }).click();
    await expect.poll(() => page.getByRole('heading', { name: 'Your videos' }).count()).toBe(1);
    return email;
  };
  const card = (page: Page, filename: string): Locator =>
    page.getByRole('listitem').filter({ has: page.getByRole('heading', { name: filename }) });
  const statusOf = (item: Locator) => item.locator('[data-status]').getAttribute('data-status');
  const tokenOf = (page: Page) =>
    page.evaluate(
      () =>
        (JSON.parse(sessionStorage.getItem('reelflux.session') ?? '{}') as { token: string }).token,
    );
  const expectNoAccessibilityViolations = async (page: Page) => {
    const { violations } = await new AxeBuilder({ page }).analyze();
    expect(
      violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`),
    ).toEqual([]);
  };
  /** The user's videos as the API lists them (first page). */
  const listedVideos = async (token: string) =>
    (
      await postGraphQL<{ videos: { edges: unknown[] } }>(
        stack.graphqlUrl,
        '{ videos { edges { node { id } } } }',
        { token },
      )
    ).body.data?.videos.edges;
  /** Chromium's upload throttling on `page`; returns what lifts it. */
  const throttleUploads = async (page: Page, bytesPerSecond: number) => {
    const cdp = await browser.context.newCDPSession(page);
    const limit = (uploadThroughput: number) =>
      cdp.send('Network.emulateNetworkConditions', {
        offline: false,
        latency: 0,
        downloadThroughput: -1,
        uploadThroughput,
      });
    await cdp.send('Network.enable');
    await limit(bytesPerSecond);
    return async () => {
      await limit(-1);
      await cdp.detach();
    };
  };
  const screenshot = (page: Page, name: string) =>
    page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });

  it('is served at / with cache headers, gzip and a CSP; GraphQL and Sandbox stay at /graphql', async () => {
    const index = await fetch(`${stack.routerUrl}/`, {
      headers: { 'accept-encoding': 'identity' },
    });
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(index.headers.get('cache-control')).toBe('no-cache');
    const csp = index.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|https?:/);
    const html = await index.text();
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/); // no inline script
    expect(html).not.toMatch(/https?:\/\//); // nothing from elsewhere

    const etag = index.headers.get('etag') ?? '';
    const again = await fetch(`${stack.routerUrl}/`, {
      headers: { 'accept-encoding': 'identity', 'if-none-match': `"other", W/${etag}` },
    });
    expect(again.status).toBe(304);
    // The gzipped answer is another representation, with a tag of its own.
    const zipped = await getRaw(`${stack.routerUrl}/`, { 'accept-encoding': 'gzip' });
    expect(zipped.headers.etag).not.toBe(etag);

    const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1] ?? '';
    const raw = await fetch(`${stack.routerUrl}${script}`, {
      headers: { 'accept-encoding': 'identity' },
    });
    const asset = await getRaw(`${stack.routerUrl}${script}`, { 'accept-encoding': 'gzip' });
    expect(raw.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(raw.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(asset.headers['content-encoding']).toBe('gzip');
    const gzipped = asset.body;
    expect(gunzipSync(gzipped).equals(Buffer.from(await raw.arrayBuffer()))).toBe(true);
    expect(gzipped.length).toBeLessThan(60_000);

    expect((await fetch(`${stack.routerUrl}/assets/nothing.js`)).status).toBe(404);
    const sandbox = await fetch(`${stack.graphqlUrl}`, { headers: { accept: 'text/html' } });
    expect(sandbox.status).toBe(200);
    expect(sandbox.headers.get('content-type')).toContain('text/html');
    const api = await postGraphQL(stack.graphqlUrl, '{ __typename }');
    expect(api.body.data).toEqual({ __typename: 'Query' });
  });

  it('signs up, uploads with a rising progress bar, plays, downloads, converts again and deletes', async () => {
    const page = await openPage();
    await expectNoAccessibilityViolations(page);
    await screenshot(page, 'log-in');
    await signUp(page);

    // 60 s of video, with Chromium's upload throttling at 200 kB/s: the progress events
    // come slowly enough to watch the bar move (on loopback the bytes may go faster).
    const clip = makeVideo(infra.ffmpegPath, 60);
    const unthrottle = await throttleUploads(page, 200_000);
    await page.getByLabel('Video', { exact: true }).setInputFiles(fixture('holiday.mp4', clip));
    await page.getByLabel('Bitrate').selectOption('128');
    await page.getByLabel('Mono').check();
    await page.getByLabel('Title').fill('Holiday');
    await page.getByRole('button', { name: 'Upload and convert' }).click();

    const seen: number[] = [];
    const bar = page.getByRole('progressbar', { name: 'Upload progress' });
    await bar.waitFor();
    while ((await bar.count()) > 0) {
      // The bar may go between the two calls: then there is no value (not a 0), at once.
      const raw = await bar.getAttribute('value', { timeout: 200 }).catch(() => null);
      const value = raw === null ? undefined : Number(raw);
      if (value !== undefined && value !== seen.at(-1)) seen.push(value);
      await page.waitForTimeout(100);
    }
    await unthrottle();
    expect(seen.length).toBeGreaterThanOrEqual(4);
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
    expect(seen.some((v) => v > 0 && v < 100)).toBe(true);

    const item = card(page, 'holiday.mp4');
    await expect.poll(() => statusOf(item), { timeout: 60_000 }).toBe('SUCCEEDED');
    await expectNoAccessibilityViolations(page);

    const duration = await item.locator('audio').evaluate(
      (audio: PageAudio) =>
        new Promise<number>((resolve, reject) => {
          if (audio.readyState >= 1) resolve(audio.duration);
          audio.addEventListener('loadedmetadata', () => resolve(audio.duration));
          audio.addEventListener('error', () => reject(new Error('the audio did not load')));
        }),
    );
    expect(duration).toBeGreaterThan(59);
    expect(duration).toBeLessThan(61);
    await screenshot(page, 'converted');

    const link = item.getByRole('link', { name: 'Download holiday.mp3' });
    const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
    expect(download.suggestedFilename()).toBe('holiday.mp3');
    const saved = join(fixtures, 'downloaded.mp3');
    await download.saveAs(saved);
    const mp3 = readFileSync(saved);
    const facts = probeMp3(infra.ffprobePath, mp3);
    expect(facts.codec).toBe('mp3');
    expect(facts.bitrateKbps).toBe(128);
    expect(facts.channels).toBe(1);
    expect(facts.tags.title).toBe('Holiday');
    expect(Math.abs(facts.durationSeconds - 60)).toBeLessThan(0.5);
    const href = (await link.getAttribute('href')) ?? '';
    const stored = Buffer.from(await (await fetch(`${stack.routerUrl}${href}`)).arrayBuffer());
    expect(sha256(mp3)).toBe(sha256(stored));

    // LAME's header frame says "Info" in a constant-bitrate MP3 and "Xing" in a VBR one.
    expect(mp3.subarray(0, 8192).includes('Info')).toBe(true);

    // Convert again, as VBR: a new MP3 takes the old one's place.
    const firstAudio = await item.getAttribute('data-audio-id');
    await item.getByRole('button', { name: 'Convert again' }).click();
    await item.getByLabel('Encoding').selectOption('variable');
    await item.getByRole('button', { name: 'Convert', exact: true }).click();
    await expect
      .poll(
        async () => {
          const audioId = await item.getAttribute('data-audio-id');
          return audioId !== null && audioId !== firstAudio;
        },
        { timeout: 60_000 },
      )
      .toBe(true);
    expect(await statusOf(item)).toBe('SUCCEEDED');
    const again = await fetch(
      `${stack.routerUrl}${await item.getByRole('link').getAttribute('href')}`,
    );
    const vbrMp3 = Buffer.from(await again.arrayBuffer());
    const vbr = probeMp3(infra.ffprobePath, vbrMp3);
    expect(vbr.codec).toBe('mp3');
    expect(vbr.channels).toBe(2);
    expect(Math.abs(vbr.durationSeconds - 60)).toBeLessThan(0.5);
    expect(vbrMp3.subarray(0, 8192).includes('Xing')).toBe(true);

    const token = await tokenOf(page);
    await item.getByRole('button', { name: 'Delete holiday.mp4' }).click();
    await item.getByRole('button', { name: 'Yes, delete holiday.mp4' }).click();
    await expect.poll(() => item.count()).toBe(0);
    expect(await listedVideos(token)).toEqual([]);
    expect(consoleErrors).toEqual([]);
    await page.close();
  });

  it('says in words that an image is not a video, and that a password is wrong', async () => {
    const page = await openPage();
    const email = await signUp(page);
    const png = fixture('photo.png', makeImage(infra.ffmpegPath));
    // Dropped on the page rather than chosen: the drop works like the picker.
    const dataTransfer = await page.evaluateHandle((base64) => {
      const transfer = new DataTransfer();
      const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
      transfer.items.add(new File([bytes], 'photo.png', { type: 'image/png' }));
      return transfer;
    }, readFileSync(png).toString('base64'));
    await page.dispatchEvent('main', 'dragover', { dataTransfer });
    await page.dispatchEvent('main', 'drop', { dataTransfer });
    await expect.poll(() => page.locator('#video-hint').textContent()).toMatch(/^photo\.png, /);
    await page.getByRole('button', { name: 'Upload and convert' }).click();
    await expect
      .poll(() => page.getByRole('alert').textContent())
      .toContain('This file is not a video or audio format we can read.');
    await screenshot(page, 'unsupported-media');

    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill('not the right password');
    await page.getByRole('button', { name: 'Log in' }).click();
    await expect
      .poll(() => page.getByRole('alert').textContent())
      .toBe('The email or password is wrong.');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await expect.poll(() => page.getByRole('heading', { name: 'Your videos' }).count()).toBe(1);
    // The refused image left nothing behind.
    await expect.poll(() => page.getByText('Nothing here yet').count()).toBe(1);
    expect(consoleErrors).toEqual([]);
    await page.close();
  });

  it('cancels an upload midway, and nothing of it is kept', async () => {
    const page = await openPage();
    await signUp(page);
    const unthrottle = await throttleUploads(page, 100_000);
    await page
      .getByLabel('Video', { exact: true })
      // Big enough that the socket's buffers cannot hold it whole: bytes already handed to
      // them reach the server even after the request is aborted.
      .setInputFiles(fixture('unwanted.mp4', mp4Shaped(40_000_000)));
    await page.getByRole('button', { name: 'Upload and convert' }).click();
    const bar = page.getByRole('progressbar', { name: 'Upload progress' });
    await expect
      .poll(async () => Number(await bar.getAttribute('value')), { timeout: 30_000 })
      .toBeGreaterThan(0);
    await page.getByRole('button', { name: 'Cancel upload' }).click();
    await expect
      .poll(() => page.getByRole('status').first().textContent())
      .toBe('The upload was cancelled.');
    expect(await bar.count()).toBe(0);
    await unthrottle();

    // The server saw the request end early: no video, then or after a reload.
    const token = await tokenOf(page);
    await page.reload();
    await expect.poll(() => page.getByText('Nothing here yet').count()).toBe(1);
    await expect.poll(async () => (await listedVideos(token))?.length).toBe(0);
    // Nor anything stored on the way: this stack's earlier tests deleted or were refused
    // theirs, so every count is 0 once the cut-off upload is cleaned up.
    const media = mongo.db(`${prefix}media`);
    const stored = () =>
      Promise.all([
        media.collection('videos.files').countDocuments(),
        media.collection('videos.chunks').countDocuments(),
        media.collection('uploads_in_progress').countDocuments(),
        media.collection('audio.files').countDocuments(),
        mongo.db(`${prefix}conversion`).collection('conversions').countDocuments(),
      ]);
    await expect.poll(stored, { timeout: 30_000 }).toEqual([0, 0, 0, 0, 0]);
    expect(consoleErrors).toEqual([]);
    await page.close();
  });

  it('cancels a running conversion, and lists videos newest first, ten at a time', async () => {
    const page = await openPage();
    await signUp(page);
    await page
      .getByLabel('Video', { exact: true })
      .setInputFiles(fixture('long.mp4', makeLongAudio(infra.ffmpegPath, 1800)));
    await page.getByRole('button', { name: 'Upload and convert' }).click();
    const long = card(page, 'long.mp4');
    await expect.poll(() => statusOf(long), { timeout: 30_000 }).toBe('RUNNING');
    await long.getByRole('button', { name: 'Cancel conversion' }).click();
    await expect.poll(() => statusOf(long)).toBe('CANCELLED');
    expect(await long.locator('audio').count()).toBe(0);
    expect(await long.getByRole('button', { name: 'Convert again' }).count()).toBe(1);

    // Ten more, sent by the API; the page shows ten, newest first, then the eleventh.
    const token = await tokenOf(page);
    const clip = makeLongAudio(infra.ffmpegPath, 1);
    for (let n = 1; n <= 10; n++) {
      await uploadVideoId(stack.graphqlUrl, clip, { token, filename: `clip-${n}.mp4` });
    }
    await page.reload();
    const headings = () => page.getByRole('list').getByRole('heading').allTextContents();
    await expect.poll(headings).toEqual(Array.from({ length: 10 }, (_, i) => `clip-${10 - i}.mp4`));
    await page.getByRole('button', { name: 'Show older videos' }).click();
    await expect.poll(async () => (await headings()).length).toBe(11);
    expect((await headings()).at(-1)).toBe('long.mp4');
    expect(await page.getByRole('button', { name: 'Show older videos' }).count()).toBe(0);
    expect(consoleErrors).toEqual([]);
    await page.close();
  });

  it('keeps watching a conversion through a router restart', async () => {
    const page = await openPage();
    await signUp(page);
    // What arrives on WebSockets opened after the kill.
    let killed = false;
    const framesAfterKill: string[] = [];
    page.on('websocket', (socket) => {
      if (killed)
        socket.on('framereceived', (frame) => framesAfterKill.push(String(frame.payload)));
    });
    await page
      .getByLabel('Video', { exact: true })
      .setInputFiles(fixture('lecture.mp4', makeLongAudio(infra.ffmpegPath, 1800)));
    await page.getByRole('button', { name: 'Upload and convert' }).click();
    const item = card(page, 'lecture.mp4');
    const converting = item.getByRole('progressbar', {
      name: 'Conversion progress of lecture.mp4',
    });
    await expect
      .poll(
        async () => Number((await converting.count()) && (await converting.getAttribute('value'))),
        {
          timeout: 30_000,
        },
      )
      .toBeGreaterThan(0);

    const [router] = childPids(stack.launcher.pid ?? 0, 'router/main.js');
    expect(router).toBeDefined();
    killed = true;
    process.kill(router ?? 0, 'SIGKILL');
    await expect.poll(() => statusOf(item), { timeout: 90_000 }).toBe('SUCCEEDED');
    expect(stack.output()).toMatch(/router +\| exited \(SIGKILL\); restarting/);
    // The page, never reloaded, opened a new WebSocket and its subscription went on there.
    const next = framesAfterKill
      .map((f) => JSON.parse(f) as { type: string })
      .filter((m) => m.type === 'next');
    expect(next.length).toBeGreaterThan(0);
    expect(await item.locator('audio').count()).toBe(1);
    // The router's restart refuses connections for a moment; those are the only errors.
    expect(
      consoleErrors.filter((e) => !/WebSocket connection .* failed|ERR_CONNECTION_REFUSED/.test(e)),
    ).toEqual([]);
    consoleErrors.length = 0;
    await page.close();
  });

  it('works with the keyboard alone at phone width', async () => {
    const page = await openPage();
    await page.setViewportSize({ width: 375, height: 740 });
    // The page starts in the Email field.
    await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe('email');
    await page.keyboard.type(`${uniqueName('web')}@example.com`);
    await page.keyboard.press('Tab');
    await page.keyboard.type(PASSWORD);
    await page.keyboard.press('Tab'); // Log in
    await page.keyboard.press('Tab'); // Sign up
    await page.keyboard.press('Enter');
    await expect.poll(() => page.getByRole('heading', { name: 'Your videos' }).count()).toBe(1);
    // Logged in, focus starts on the upload form.
    await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe('upload-heading');

    const label = () =>
      page.evaluate(
        () =>
          document.activeElement?.getAttribute('aria-label') ??
          document.activeElement?.textContent ??
          '',
      );
    // Tab to the file picker and open it from the keyboard.
    // Listening first: Playwright intercepts the chooser only once it has been told to, and
    // a key pressed before that opens the (headless, invisible) native one instead.
    const choosing = page.waitForEvent('filechooser');
    const focused = () => page.evaluate(() => document.activeElement?.id ?? '');
    for (let i = 0; i < 5 && (await focused()) !== 'video'; i++) await page.keyboard.press('Tab');
    expect(await focused()).toBe('video');
    await page.keyboard.press('Space');
    const chooser = await choosing;
    await chooser.setFiles(fixture('phone.mp4', makeVideo(infra.ffmpegPath, 4)));
    for (let i = 0; i < 25 && (await label()) !== 'Upload and convert'; i++)
      await page.keyboard.press('Tab');
    expect(await label()).toBe('Upload and convert');
    await page.keyboard.press('Enter');
    const item = card(page, 'phone.mp4');
    await expect.poll(() => statusOf(item), { timeout: 60_000 }).toBe('SUCCEEDED');
    // The upload's outcome has the focus, read out as a status.
    await expect
      .poll(() => page.evaluate(() => document.activeElement?.getAttribute('role') ?? ''))
      .toBe('status');

    const overflow = await page.evaluate(
      () => document.documentElement.scrollWidth - window.innerWidth,
    );
    expect(overflow).toBeLessThanOrEqual(0);
    await screenshot(page, 'phone');
    await expectNoAccessibilityViolations(page);

    // Delete it by keyboard: focus moves on with Tab until the button, then Enter twice.
    for (let i = 0; i < 40 && (await label()) !== 'Delete phone.mp4'; i++)
      await page.keyboard.press('Tab');
    expect(await label()).toBe('Delete phone.mp4');
    await page.keyboard.press('Enter');
    await expect.poll(label).toBe('Yes, delete phone.mp4');
    await page.keyboard.press('Enter');
    await expect.poll(() => item.count()).toBe(0);
    // The card and its buttons are gone; focus is on the list's heading.
    await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe('videos-heading');
    expect(consoleErrors).toEqual([]);
    await page.close();
  });

  it('adds a webhook endpoint under Notifications, shows its secret once, tests and removes it', async () => {
    const receiver = await startWebhookReceiver();
    try {
      const page = await openPage();
      await signUp(page);
      const url = receiver.url('/web');
      const section = page.getByRole('region', { name: 'Notifications' });
      await section.getByLabel('Endpoint URL').fill(url);
      await section.getByLabel('Cancelled').uncheck();
      await section.getByRole('button', { name: 'Add endpoint' }).click();

      const secretField = section.getByLabel(`Signing secret for ${url}`);
      await secretField.waitFor();
      const secret = await secretField.inputValue();
      expect(secret).toMatch(/^whsec_/);
      expect(await section.getByText('it will not be shown again').count()).toBe(1);
      // Focus is on what there is to copy.
      await expect
        .poll(() => page.evaluate(() => document.activeElement?.id))
        .toBe('webhook-secret');
      await expectNoAccessibilityViolations(page);
      await screenshot(page, 'notifications');
      const item = section
        .getByRole('listitem')
        .filter({ has: page.getByRole('heading', { name: url }) });
      expect(await item.locator('.status').textContent()).toBe(
        'On When a conversion has succeeded, failed',
      );

      // Once dismissed, the secret is nowhere on the page, nor after a reload.
      await section.getByRole('button', { name: 'Done' }).click();
      await expect.poll(() => secretField.count()).toBe(0);
      await page.reload();
      await item.waitFor();
      expect(await page.content()).not.toContain(secret);

      // A test goes to the receiver, and the card shows the answer and the attempt.
      await item.getByRole('button', { name: `Send test to ${url}` }).click();
      await expect
        .poll(() => item.getByRole('status').textContent(), { timeout: 20_000 })
        .toMatch(/^Test answered: HTTP 200, \d+ ms\.$/);
      const [hook] = await receiver.waitFor('/web', 1);
      expect(hook?.headers['webhook-signature']).toMatch(/^v1,/);
      const deliveries = item.getByRole('list', { name: `Last deliveries to ${url}` });
      expect(await deliveries.getByRole('listitem').first().textContent()).toContain(
        'webhook.test',
      );
      expect(await deliveries.locator('.attempts').first().textContent()).toMatch(/HTTP 200/);

      await item.getByRole('button', { name: `Turn off ${url}` }).click();
      await expect.poll(() => item.locator('.badge').first().textContent()).toBe('Off');
      await item.getByRole('button', { name: `Remove ${url}` }).click();
      await item.getByRole('button', { name: `Yes, remove ${url}` }).click();
      await expect.poll(() => item.count()).toBe(0);
      expect(await section.getByText('No webhook endpoints yet.').count()).toBe(1);
      expect(consoleErrors).toEqual([]);
      await page.close();
    } finally {
      await receiver.close();
    }
  });

  it('mails a code to the address given under Notifications, verifies it, and turns the mail off', async () => {
    const page = await openPage();
    await signUp(page);
    const section = page.getByRole('region', { name: 'Notifications' });
    const email = section.getByRole('group', { name: 'Email me' });
    const address = `${uniqueName('notify')}@example.com`;
    await email.getByLabel('Email address').fill(address);
    await email.getByRole('button', { name: 'Send code' }).click();
    await expect
      .poll(() => email.getByRole('status').textContent())
      .toBe(`A code is on its way to ${address}.`);
    expect(await email.locator('.badge').textContent()).toBe('Not verified');
    // The code field is shown, and has the focus.
    await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe('email-code');

    const mail = await readMail(infra.mailWebUrl, address, { timeoutMs: 20_000 });
    const code = /code is (\d{6})/.exec(mail.text)?.[1] ?? '';
    expect(code).toMatch(/^\d{6}$/);
    const codeField = email.getByLabel(`Code from the mail to ${address}`);
    await codeField.fill(code === '000000' ? '111111' : '000000');
    await email.getByRole('button', { name: 'Verify' }).click();
    await expect
      .poll(() => email.getByRole('alert').textContent())
      .toContain('The code is wrong or has expired.');
    await codeField.fill(code);
    await email.getByRole('button', { name: 'Verify' }).click();
    await expect
      .poll(() => email.getByRole('status').textContent())
      .toBe(`${address} is verified.`);
    expect(await email.locator('.badge').textContent()).toBe('On');
    expect(await codeField.count()).toBe(0);
    await expectNoAccessibilityViolations(page);
    await screenshot(page, 'notifications-email');

    await email.getByRole('button', { name: 'Turn off email' }).click();
    await expect.poll(() => email.locator('.badge').textContent()).toBe('Off');
    // As the API has it, after a reload too.
    await page.reload();
    await expect.poll(() => email.locator('.badge').textContent()).toBe('Off');
    const settings = await postGraphQL<{
      emailNotifications: { address: string; verified: boolean; enabled: boolean };
    }>(stack.graphqlUrl, '{ emailNotifications { address verified enabled } }', {
      token: await tokenOf(page),
    });
    expect(settings.body.data?.emailNotifications).toEqual({
      address,
      verified: true,
      enabled: false,
    });
    expect(consoleErrors).toEqual([]);
    await page.close();
  });

  it('registers the push worker for "Notify me in this browser", which shows what is pushed to it', async () => {
    const origin = new URL(stack.routerUrl).origin;
    await browser.context.grantPermissions(['notifications'], { origin });
    const page = await openPage();
    await signUp(page);
    const push = page
      .getByRole('region', { name: 'Notifications' })
      .getByRole('group', { name: 'This browser' });
    await push.getByRole('button', { name: 'Notify me in this browser' }).click();

    // Chromium's push service is out of reach here: its subscribe() gets no answer, and after
    // 15 s the page says it could not sign up. Where it is reached, the server takes the
    // subscription or refuses its push service (PUSH_SERVICE_HOSTS), and the page shows which.
    let outcome = '';
    for (let i = 0; i < 150 && outcome === ''; i++) {
      if ((await push.getByRole('button', { name: 'Stop' }).count()) > 0) outcome = 'subscribed';
      else if ((await push.getByRole('alert').count()) > 0)
        outcome = (await push.getByRole('alert').textContent()) ?? '';
      else await page.waitForTimeout(200);
    }
    expect(outcome).toMatch(
      /^(subscribed|This browser could not sign up with its push service .*|This browser’s push service is not one the server sends to.*)$/,
    );
    expect(await push.locator('.badge').textContent()).toBe(
      outcome === 'subscribed' ? 'On' : 'Off',
    );
    const listed = await postGraphQL<{ pushSubscriptions: unknown[] }>(
      stack.graphqlUrl,
      '{ pushSubscriptions { id } }',
      { token: await tokenOf(page) },
    );
    expect(listed.body.data?.pushSubscriptions).toHaveLength(outcome === 'subscribed' ? 1 : 0);

    // Whatever the push service did, the page's worker is registered and active.
    const scriptUrl = await page.evaluate(
      async () => (await navigator.serviceWorker.getRegistration())?.active?.scriptURL,
    );
    expect(scriptUrl).toBe(`${origin}/pushWorker.js`);

    // A push, as the push service hands it to the browser, delivered over the DevTools
    // protocol: the page's worker shows it.
    const cdp = await browser.context.newCDPSession(page);
    const registered = new Promise<string>((resolve) => {
      cdp.on('ServiceWorker.workerRegistrationUpdated', ({ registrations }) => {
        const ours = registrations.find((r) => r.scopeURL === `${origin}/` && !r.isDeleted);
        if (ours) resolve(ours.registrationId);
      });
    });
    await cdp.send('ServiceWorker.enable');
    const title = `MP3 ready ${uniqueName('push')}`;
    await cdp.send('ServiceWorker.deliverPushMessage', {
      origin,
      registrationId: await registered,
      data: JSON.stringify({ title, body: 'holiday.mp4', url: '/?video=1' }),
    });
    // Chromium records a notification as shown a moment after showNotification() resolves.
    await page.waitForTimeout(1_000);
    const shown = await page.evaluate(async () => {
      const registration = await navigator.serviceWorker.getRegistration();
      return (await registration?.getNotifications())?.map(({ title, body, data }) => ({
        title,
        body,
        url: data?.url,
      }));
    });
    expect(shown).toContainEqual({ title, body: 'holiday.mp4', url: `${origin}/?video=1` });
    await cdp.detach();
    expect(consoleErrors).toEqual([]);
    await page.close();
  });
});

/** A GET whose body comes back as sent: fetch would undo the gzip this checks. */
function getRaw(url: string, headers: Record<string, string>) {
  return new Promise<{ headers: IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
    get(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
    }).on('error', reject);
  });
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}
