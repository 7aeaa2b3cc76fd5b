import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CDPSession, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromRoot } from '../lib/platform/projectRoot.js';
import { launchTestBrowser, type TestBrowser } from './helpers/browser.js';
import { uniqueName } from './helpers/uniqueName.js';

// The page's globals, as the functions run inside it by `page.evaluate` see them (this file
// is compiled for Node, without the DOM's types).
interface PageNotification {
  title: string;
  body: string;
  data: { url?: string } | null;
}
declare const navigator: {
  serviceWorker: {
    register(url: string): Promise<unknown>;
    ready: Promise<{ getNotifications(): Promise<PageNotification[]> }>;
  };
};

const WORKER = readFileSync(fromRoot('web', 'public', 'pushWorker.js'));

/** The worker and an empty page beside it, on a loopback origin (a secure context). */
async function serveWorker(): Promise<{ server: Server; origin: string }> {
  const server = createServer((request, response) => {
    if (request.url === '/pushWorker.js') {
      response.writeHead(200, { 'content-type': 'text/javascript' }).end(WORKER);
    } else if (request.url === '/') {
      response
        .writeHead(200, { 'content-type': 'text/html' })
        .end('<!doctype html><title>t</title>');
    } else {
      response.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/**
 * The notifications the page's registration shows, once they can be read. Chromium forgets a
 * notification that `getNotifications()` reads before it is recorded as displayed, a moment
 * after `showNotification()` resolves, so the first read waits.
 */
async function shownNotifications(page: Page) {
  await sleep(1_000);
  return page.evaluate(async () => {
    const registration = await navigator.serviceWorker.ready;
    return (await registration.getNotifications()).map(({ title, body, data }) => ({
      title,
      body,
      url: data?.url,
    }));
  });
}

describe('the push worker in Chromium', { timeout: 60_000 }, () => {
  let browser: TestBrowser;
  let served: { server: Server; origin: string };
  let page: Page;
  let cdp: CDPSession;
  let registrationId: string;

  beforeAll(async () => {
    served = await serveWorker();
    browser = await launchTestBrowser();
    await browser.context.grantPermissions(['notifications'], { origin: served.origin });
    page = await browser.context.newPage();
    cdp = await browser.context.newCDPSession(page);
    const scope = `${served.origin}/`;
    const registered = new Promise<string>((resolve) => {
      cdp.on('ServiceWorker.workerRegistrationUpdated', ({ registrations }) => {
        const ours = registrations.find((r) => r.scopeURL === scope && !r.isDeleted);
        if (ours) resolve(ours.registrationId);
      });
    });
    await cdp.send('ServiceWorker.enable');
    await page.goto(scope);
    await page.evaluate(async () => {
      await navigator.serviceWorker.register('/pushWorker.js');
      await navigator.serviceWorker.ready;
    });
    registrationId = await registered;
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => served?.server.close(resolve));
  });

  /** A push as a push service hands it to the browser: already decrypted. */
  const push = (data: string) =>
    cdp.send('ServiceWorker.deliverPushMessage', {
      origin: served.origin,
      registrationId,
      data,
    });

  it('shows the pushed title and body, keeping the page to open', async () => {
    const title = `MP3 ready ${uniqueName('push')}`;
    await push(JSON.stringify({ title, body: 'holiday.mp4 → holiday.mp3', url: '/#/c/42' }));

    expect(await shownNotifications(page)).toContainEqual({
      title,
      body: 'holiday.mp4 → holiday.mp3',
      url: `${served.origin}/#/c/42`,
    });
  });

  it('opens only pages of its own origin, whatever the payload says', async () => {
    const title = `Elsewhere ${uniqueName('push')}`;
    await push(JSON.stringify({ title, body: '', url: 'https://attacker.example/login' }));

    expect(await shownNotifications(page)).toContainEqual({
      title,
      body: '',
      url: `${served.origin}/`,
    });
  });

  it('still shows a notification for a payload it cannot read', async () => {
    await push('not JSON');

    expect(await shownNotifications(page)).toContainEqual({
      title: 'REELFLUX',
      body: '',
      url: `${served.origin}/`,
    });
  });
});
