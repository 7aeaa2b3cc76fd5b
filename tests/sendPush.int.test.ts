import { randomBytes } from 'node:crypto';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  vapidKeysFromSecret,
  parsePushSubscription,
  sendPush,
  type PushSubscriptionKeys,
  type VapidKeys,
} from '../subgraphs/notification/push/sendPush.js';
import { startPushEndpoint, type PushEndpoint } from './helpers/pushEndpoint.js';
import { uniqueName } from './helpers/uniqueName.js';

const vapid = vapidKeysFromSecret(randomBytes(32), 'mailto:push-test@reelflux.test');
const send = (to: PushSubscriptionKeys, payload: string, keys: VapidKeys = vapid) =>
  sendPush(to, payload, { vapid: keys, ttlSeconds: 60, timeoutMs: 5_000 });

describe('sendPush, against a push endpoint on loopback', () => {
  let endpoint: PushEndpoint;
  /** A subscription at the local endpoint, as the page would give it and the service keep it. */
  const subscribe = (id: string) =>
    parsePushSubscription(endpoint.subscriptionFor(id), { allowHttp: true });

  beforeAll(async () => {
    endpoint = await startPushEndpoint();
  });
  afterAll(() => endpoint.close());

  it('delivers a payload the browser decrypts to the same JSON, in order', async () => {
    const id = uniqueName('push');
    const ready = { title: 'MP3 ready', body: 'holiday.mp4 → holiday.mp3', url: '/#/c/42' };
    const second = { title: 'MP3 ready', body: 'talk.webm → talk.mp3', url: '/#/c/43' };

    expect(await send(subscribe(id), JSON.stringify(ready))).toEqual({
      kind: 'delivered',
      statusCode: 201,
    });
    await send(subscribe(id), JSON.stringify(second));

    expect(JSON.parse(await endpoint.received(id))).toEqual(ready);
    expect(JSON.parse(await endpoint.received(id))).toEqual(second);
  });

  it('signs with VAPID: a token that does not verify against the key sent is refused', async () => {
    const id = uniqueName('push');
    const otherKeys = vapidKeysFromSecret(randomBytes(32), 'mailto:push-test@reelflux.test');
    // Signed with one private key, presented with another pair's public key.
    const mismatched = { ...vapid, publicKey: otherKeys.publicKey };

    const outcome = await send(subscribe(id), '{}', mismatched);

    expect(outcome).toMatchObject({ kind: 'failed', statusCode: 403 });
    await expect(endpoint.received(id)).rejects.toThrow(/VAPID token refused/);
  });

  it('reports a subscription the push service answers 410 or 404 for as gone', async () => {
    const expired = uniqueName('push');
    const to = subscribe(expired);
    endpoint.answerWith(expired, 410);
    expect(await send(to, '{}')).toEqual({ kind: 'gone', statusCode: 410 });

    const unknown = { ...to, endpoint: endpoint.url(uniqueName('never-subscribed')) };
    expect(await send(unknown, '{}')).toEqual({ kind: 'gone', statusCode: 404 });
  });

  it('reports any other refusal as failed, with its status', async () => {
    const id = uniqueName('push');
    const to = subscribe(id);
    endpoint.answerWith(id, 429);
    expect(await send(to, '{}')).toEqual({
      kind: 'failed',
      statusCode: 429,
      error: 'the push service answered 429',
    });
  });

  it('gives failed for a closed port, without throwing', async () => {
    const gone = await startPushEndpoint();
    const to = parsePushSubscription(gone.subscriptionFor('closed'), { allowHttp: true });
    await gone.close();

    const outcome = await send(to, '{}');

    expect(outcome).toMatchObject({ kind: 'failed', statusCode: null });
    expect(outcome.kind === 'failed' && outcome.error).toMatch(/ECONNREFUSED/);
  });

  it('gives failed when the service takes the connection and never answers', async () => {
    const sockets = new Set<Socket>();
    const silent = createTcpServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as AddressInfo;
    const to = { ...subscribe(uniqueName('push')), endpoint: `http://127.0.0.1:${port}/push/a` };

    try {
      const started = Date.now();
      const outcome = await sendPush(to, '{}', { vapid, ttlSeconds: 60, timeoutMs: 300 });
      expect(outcome).toEqual({
        kind: 'failed',
        statusCode: null,
        error: 'no answer within 300 ms',
      });
      expect(Date.now() - started).toBeLessThan(3_000);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});
