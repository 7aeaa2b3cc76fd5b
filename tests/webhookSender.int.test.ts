import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDownloadTokens } from '../lib/platform/createDownloadTokens.js';
import { createLogger } from '../lib/platform/logger.js';
import type { WebhookSettings } from '../subgraphs/notification/config.js';
import { createDeliveryStore } from '../subgraphs/notification/createDeliveryStore.js';
import {
  createEndpointStore,
  type EndpointRecord,
} from '../subgraphs/notification/createEndpointStore.js';
import { createWebhookSender } from '../subgraphs/notification/webhooks/createWebhookSender.js';
import { useTestDatabases } from './helpers/useTestDatabases.js';
import { startWebhookReceiver, type WebhookReceiver } from './helpers/webhookReceiver.js';

const SETTINGS: WebhookSettings = {
  retryScheduleMs: [100],
  timeoutMs: 2_000,
  allowHttp: true,
  allowPrivateNetworks: true,
  concurrency: 4,
  concurrencyPerEndpoint: 2,
  endpointsPerUser: 10,
  testsPerHour: 10,
  disableAfterMs: 5 * 86_400_000,
};

/** The webhook sender on the real database and a real receiver: what a failure does to an endpoint. */
describe('webhook sender (real database, real HTTP)', () => {
  const db = useTestDatabases('webhook-sender').database('notification');
  let receiver: WebhookReceiver;
  beforeAll(async () => {
    receiver = await startWebhookReceiver();
  });
  afterAll(async () => {
    await receiver.close();
  });

  const setUp = async (path: string) => {
    const endpoints = await createEndpointStore(db);
    const deliveries = await createDeliveryStore(db);
    const disabled: EndpointRecord[] = [];
    const send = createWebhookSender({
      endpoints,
      deliveries,
      downloads: createDownloadTokens({
        publicUrl: 'https://reelflux.example',
        secret: new TextEncoder().encode('s'.repeat(32)),
        ttlSeconds: 900,
      }),
      settings: SETTINGS,
      log: createLogger('webhook-sender-test', 'silent'),
      onDisabled: async (endpoint) => {
        disabled.push(endpoint);
      },
    });
    const endpoint = await endpoints.add(
      { owner: 'owner-1', url: receiver.url(path), events: ['conversion.succeeded'] },
      'whsec_' + Buffer.alloc(32, 1).toString('base64'),
      10,
    );
    const notice = (key: string) =>
      deliveries.enqueue({
        owner: 'owner-1',
        channel: 'webhook',
        targetId: endpoint._id,
        eventKey: key,
        type: 'conversion.succeeded',
        conversionId: null,
        videoId: null,
        filename: 'a.mp4',
        status: 'SUCCEEDED',
        errorCode: null,
        audioId: null,
        occurredAt: new Date(),
      });
    return { endpoints, deliveries, endpoint, send, notice, disabled };
  };

  it('marks when an endpoint began failing, and forgets it once it answers', async () => {
    const { endpoints, endpoint, send, notice } = await setUp('/flaky');
    receiver.script('/flaky', [{ status: 500 }, { status: 502 }]);
    const first = await notice('a');
    expect((await send(first!)).result).toBe('failed');
    const since = (await endpoints.findById(endpoint._id))?.failingSince;
    expect(since).toBeInstanceOf(Date);
    expect((await send(first!)).result).toBe('failed');
    expect((await endpoints.findById(endpoint._id))?.failingSince).toEqual(since);
    expect((await send(first!)).result).toBe('delivered');
    expect((await endpoints.findById(endpoint._id))?.failingSince).toBeNull();
  });

  it('turns off an endpoint failing for WEBHOOK_DISABLE_AFTER_DAYS, drops what it had pending, and tells its owner', async () => {
    const { endpoints, deliveries, endpoint, send, notice, disabled } = await setUp('/dead');
    receiver.script('/dead', [{ status: 500 }]);
    await endpoints.failed(endpoint._id, new Date(Date.now() - 6 * 86_400_000));
    const attempted = await notice('b');
    const waiting = await notice('c');
    expect((await send(attempted!)).result).toBe('failed');
    expect(await endpoints.findById(endpoint._id)).toMatchObject({
      enabled: false,
      disabledReason: 'failed every attempt for 5 days',
    });
    expect(disabled.map((e) => e._id.toHexString())).toEqual([endpoint._id.toHexString()]);
    const [left] = await deliveries
      .forTarget(endpoint._id, 10)
      .then((all) => all.filter((d) => d._id.equals(waiting!._id)));
    expect(left?.deliveryStatus).toBe('DROPPED');
    // What comes due for it later is dropped without a request.
    const before = receiver.received('/dead').length;
    expect((await send(waiting!)).result).toBe('dropped');
    expect(receiver.received('/dead')).toHaveLength(before);
  });
});
