import amqp from 'amqplib';
import { ObjectId } from 'mongodb';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topologyNames } from '../lib/broker/topology.js';
import { signUpUser, type TestUser } from './helpers/authOperations.js';
import { conversionState, conversionUntil } from './helpers/conversionState.js';
import { makeLongAudio, makeVideo } from './helpers/fixtures.js';
import { errorCodes, postGraphQL } from './helpers/graphql.js';
import { uploadVideoId } from './helpers/multipartUpload.js';
import { childPids } from './helpers/processes.js';
import { readMail } from './helpers/mailpit.js';
import { startPushEndpoint } from './helpers/pushEndpoint.js';
import { uniqueName } from './helpers/uniqueName.js';
import { useBrokerProxy } from './helpers/useBrokerProxy.js';
import { useStack } from './helpers/useStack.js';
import { startWebhookReceiver, type WebhookReceiver } from './helpers/webhookReceiver.js';

const ADD = /* GraphQL */ `
  mutation ($input: WebhookEndpointInput!) {
    addWebhookEndpoint(input: $input) {
      secret
      endpoint {
        id
        url
        events
        enabled
      }
    }
  }
`;
const DELIVERIES = /* GraphQL */ `
  query ($id: ID!) {
    webhookEndpoint(id: $id) {
      deliveries {
        id
        type
        status
        conversionId
        attempts {
          statusCode
          error
          responseHead
        }
      }
    }
  }
`;

interface Delivery {
  id: string;
  type: string;
  status: string;
  conversionId: string | null;
  attempts: { statusCode: number | null; error: string | null; responseHead: string }[];
}

/**
 * Notifications end to end: real stack, RabbitMQ, ffmpeg and Mailpit, real HTTP receivers and a
 * real RFC 8030 push service on loopback
 * (which the stack is configured to allow), and the Standard Webhooks library as the verifier
 * a receiver would use.
 */
describe('notification: webhooks, email and browser push', { timeout: 120_000 }, () => {
  const relay = useBrokerProxy();
  const suite = useStack('notify', () => ({
    AMQP_URL: relay.amqpUrl,
    WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true',
    WEBHOOK_ALLOW_HTTP: 'true',
    WEBHOOK_RETRY_SCHEDULE_SECONDS: '0.3,0.3,0.3,0.3',
    WEBHOOK_TIMEOUT_SECONDS: '5',
    WEBHOOK_ENDPOINTS_PER_USER: '3',
    // Browser push to a local RFC 8030 endpoint (tests/helpers/pushEndpoint.ts).
    PUSH_SERVICE_HOSTS: '127.0.0.1',
    PUSH_ALLOW_HTTP: 'true',
  }));
  let receiver: WebhookReceiver;
  beforeAll(async () => {
    receiver = await startWebhookReceiver();
  });
  afterAll(async () => {
    await receiver.close();
  });

  const gql = <T>(user: TestUser, query: string, variables: Record<string, unknown> = {}) =>
    postGraphQL<T>(suite.stack.graphqlUrl, query, { token: user.token, variables });
  const addEndpoint = async (user: TestUser, path: string, events?: string[]) => {
    const added = await gql<{
      addWebhookEndpoint: { secret: string; endpoint: { id: string } };
    }>(user, ADD, { input: { url: receiver.url(path), ...(events ? { events } : {}) } });
    const payload = added.body.data?.addWebhookEndpoint;
    if (!payload) throw new Error(JSON.stringify(added.body));
    return { id: payload.endpoint.id, secret: payload.secret };
  };
  const deliveriesOf = async (user: TestUser, endpointId: string) =>
    (
      await gql<{ webhookEndpoint: { deliveries: Delivery[] } }>(user, DELIVERIES, {
        id: endpointId,
      })
    ).body.data?.webhookEndpoint.deliveries ?? [];
  const convert = async (user: TestUser, seconds = 1) => {
    const id = await uploadVideoId(
      suite.stack.graphqlUrl,
      makeVideo(suite.infra.ffmpegPath, seconds),
      { token: user.token, filename: 'holiday.mp4' },
    );
    await conversionUntil(suite.stack.graphqlUrl, user.token, id);
    return id;
  };
  const newUser = () => signUpUser(suite.stack.graphqlUrl);

  it('a finished conversion arrives signed; the library verifies it; its link downloads the MP3', async () => {
    const alice = await newUser();
    const { secret } = await addEndpoint(alice, '/alice');
    expect(secret).toMatch(/^whsec_/);
    const videoId = await convert(alice);
    const [hook] = await receiver.waitFor('/alice', 1);
    const payload = new Webhook(secret).verify(
      hook!.body,
      hook!.headers as Record<string, string>,
    ) as {
      type: string;
      data: {
        conversionId: string;
        filename: string;
        status: string;
        audio: { downloadUrl: string };
      };
    };
    expect(payload).toMatchObject({
      type: 'conversion.succeeded',
      data: { conversionId: videoId, filename: 'holiday.mp4', status: 'SUCCEEDED' },
    });
    const mp3 = await fetch(payload.data.audio.downloadUrl);
    expect(mp3.status).toBe(200);
    expect((await mp3.arrayBuffer()).byteLength).toBeGreaterThan(1000);
    expect(() =>
      new Webhook(secret).verify(`${hook!.body} `, hook!.headers as Record<string, string>),
    ).toThrow();
  });

  it('a receiver that fails three times gets the same webhook-id each time, and one delivery in the end', async () => {
    const bob = await newUser();
    const { id: endpointId } = await addEndpoint(bob, '/bob');
    receiver.script('/bob', [{ status: 500 }, { status: 503 }, { status: 404 }]);
    await convert(bob);
    const hooks = await receiver.waitFor('/bob', 4);
    expect(new Set(hooks.map((h) => h.headers['webhook-id'])).size).toBe(1);
    await expect
      .poll(async () => (await deliveriesOf(bob, endpointId))[0]?.status, { timeout: 5_000 })
      .toBe('DELIVERED');
    const [delivery] = await deliveriesOf(bob, endpointId);
    expect(delivery?.id).toBe(hooks[0]?.headers['webhook-id']);
    expect(delivery?.attempts.map((a) => a.statusCode)).toEqual([500, 503, 404, 200]);
    expect(delivery?.attempts[0]?.responseHead).toBe('answer 500');
  });

  it('a receiver that takes 20 s does not hold up another user’s webhook', async () => {
    const slow = await newUser();
    const quick = await newUser();
    await addEndpoint(slow, '/slow');
    await addEndpoint(quick, '/quick');
    // Six of the slow user's notices, more than one endpoint may have in flight: their
    // webhooks hang for 20 s each, and two wait for a place.
    receiver.script(
      '/slow',
      Array.from({ length: 6 }, () => ({ status: 200, delayMs: 20_000 })),
    );
    await publish(
      Array.from({ length: 6 }, () => finishedEvent(slow, 'SUCCEEDED')),
      1,
    );
    await receiver.waitFor('/slow', 4);
    await new Promise((resolve) => setTimeout(resolve, 300));
    // WEBHOOK_CONCURRENCY_PER_ENDPOINT (4): the other two wait for a place.
    expect(receiver.received('/slow')).toHaveLength(4);
    await convert(quick);
    await receiver.waitFor('/quick', 1, 10_000);
    expect(await finalToWebhookMs(quick, '/quick')).toBeLessThan(1_000);
  });

  it('RabbitMQ away as a conversion finishes: its webhook comes once the broker is back, once', async () => {
    const fay = await newUser();
    await addEndpoint(fay, '/fay');
    // Half an hour of audio: some seconds of ffmpeg, so the run ends while the broker is away.
    const id = await uploadVideoId(
      suite.stack.graphqlUrl,
      makeLongAudio(suite.infra.ffmpegPath, 1800),
      { token: fay.token },
    );
    await conversionUntil(suite.stack.graphqlUrl, fay.token, id, {
      done: (state) => state.status === 'RUNNING',
    });
    relay.proxy.cut();
    try {
      await expect
        .poll(
          async () =>
            (await conversionState(suite.stack.graphqlUrl, fay.token, id))?.status ?? 'none',
          { timeout: 60_000, interval: 500 },
        )
        .toBe('SUCCEEDED');
      expect(receiver.received('/fay')).toHaveLength(0);
    } finally {
      relay.proxy.restore();
    }
    const [hook] = await receiver.waitFor('/fay', 1, 60_000);
    expect(JSON.parse(hook!.body)).toMatchObject({ data: { conversionId: id } });
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(receiver.received('/fay')).toHaveLength(1);
  });

  it('a redelivered conversion.finished sends nothing twice', async () => {
    const carol = await newUser();
    const { id: endpointId } = await addEndpoint(carol, '/carol');
    await publish([finishedEvent(carol, 'FAILED')], 2);
    await receiver.waitFor('/carol', 1);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(receiver.received('/carol')).toHaveLength(1);
    expect(await deliveriesOf(carol, endpointId)).toHaveLength(1);
  });

  it('a deleted video stops its pending deliveries', async () => {
    const ivy = await newUser();
    const { id: endpointId } = await addEndpoint(ivy, '/ivy');
    // Every attempt fails, slowly: the delivery is still being retried when the video goes.
    receiver.script(
      '/ivy',
      Array.from({ length: 8 }, () => ({ status: 500, delayMs: 1_000 })),
    );
    const videoId = await convert(ivy);
    await receiver.waitFor('/ivy', 1);
    await gql(ivy, 'mutation ($id: ID!) { deleteVideo(id: $id) }', { id: videoId });
    await expect
      .poll(async () => (await deliveriesOf(ivy, endpointId))[0]?.status, { timeout: 10_000 })
      .toBe('DROPPED');
    const sent = receiver.received('/ivy').length;
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    // At most the attempt already under way when it was dropped; none after it.
    expect(receiver.received('/ivy').length).toBeLessThanOrEqual(sent + 1);
  });

  it('the notification process killed mid-delivery: the webhook still arrives, under the same id', async () => {
    const dave = await newUser();
    await addEndpoint(dave, '/dave');
    // The first attempt hangs; the process dies while it waits; a fresh one sends it again.
    receiver.script('/dave', [{ status: 200, delayMs: 60_000 }]);
    await convert(dave);
    const [first] = await receiver.waitFor('/dave', 1);
    const [pid] = childPids(suite.stack.launcher.pid ?? 0, 'notification/main.js');
    process.kill(pid ?? 0, 'SIGKILL');
    const hooks = await receiver.waitFor('/dave', 2, 90_000);
    expect(hooks[1]?.headers['webhook-id']).toBe(first?.headers['webhook-id']);
  });

  it('notification out of service: the router stays ready, names it degraded, and converts', async () => {
    const [pid] = childPids(suite.stack.launcher.pid ?? 0, 'notification/main.js');
    // Frozen rather than killed, so that the launcher does not bring it back meanwhile.
    process.kill(pid ?? 0, 'SIGSTOP');
    try {
      const ready = await fetch(`${suite.stack.internalUrls.router}/readyz`);
      expect(ready.status).toBe(200);
      const body = (await ready.json()) as { status: string; degraded?: string[] };
      expect(body.status).toBe('ready');
      expect(body.degraded).toEqual([expect.stringMatching(/^notification: /)]);
      const frank = await newUser();
      const id = await convert(frank);
      expect(await conversionState(suite.stack.graphqlUrl, frank.token, id)).toMatchObject({
        status: 'SUCCEEDED',
      });
    } finally {
      process.kill(pid ?? 0, 'SIGCONT');
    }
    const ready = (await (await fetch(`${suite.stack.internalUrls.router}/readyz`)).json()) as {
      degraded?: string[];
    };
    expect(ready.degraded).toBeUndefined();
  });

  it('replay sends a delivery again under its id; refused inputs store nothing', async () => {
    const erin = await newUser();
    const { id: endpointId } = await addEndpoint(erin, '/erin', ['CONVERSION_SUCCEEDED']);
    const test = await gql<{ testWebhookEndpoint: { id: string } }>(
      erin,
      'mutation ($id: ID!) { testWebhookEndpoint(id: $id) { id } }',
      { id: endpointId },
    );
    const [sent] = await receiver.waitFor('/erin', 1);
    expect(JSON.parse(sent!.body)).toMatchObject({ type: 'webhook.test' });
    const deliveryId = test.body.data?.testWebhookEndpoint.id;
    await gql(erin, 'mutation ($id: ID!) { replayWebhookDelivery(id: $id) { id } }', {
      id: deliveryId,
    });
    const both = await receiver.waitFor('/erin', 2);
    expect(both.map((h) => h.headers['webhook-id'])).toEqual([deliveryId, deliveryId]);

    const mallory = await newUser();
    const stolen = await gql(
      mallory,
      'mutation ($id: ID!) { replayWebhookDelivery(id: $id) { id } }',
      {
        id: deliveryId,
      },
    );
    expect(errorCodes(stolen)).toEqual(['NOT_FOUND']);
    const refused = async (url: string) => errorCodes(await gql(erin, ADD, { input: { url } }));
    expect(await refused('file:///etc/passwd')).toEqual(['BAD_USER_INPUT']);
    expect(await refused('gopher://example.com/')).toEqual(['BAD_USER_INPUT']);
    expect(await refused(`https://example.com/${'a'.repeat(2100)}`)).toEqual(['BAD_USER_INPUT']);
    expect(await refused('https://user:pw@example.com/')).toEqual(['BAD_USER_INPUT']);
    expect(
      errorCodes(await gql(erin, ADD, { input: { url: receiver.url('/x'), events: ['NOPE'] } })),
    ).toEqual(['BAD_USER_INPUT']);
    await addEndpoint(erin, '/erin2');
    await addEndpoint(erin, '/erin3');
    expect(await refused(receiver.url('/erin4'))).toEqual(['QUOTA_EXCEEDED']);
    const listed = await gql<{ webhookEndpoints: { url: string }[] }>(
      erin,
      '{ webhookEndpoints { url } }',
    );
    expect(listed.body.data?.webhookEndpoints.map((e) => new URL(e.url).pathname)).toEqual([
      '/erin',
      '/erin2',
      '/erin3',
    ]);
  });

  it('email: an address gets mail only once proved; the notice arrives; one click unsubscribes', async () => {
    const gus = await newUser();
    const address = `${uniqueName('gus')}@example.com`;
    const setAddress = (to: string) =>
      gql<{ setNotificationEmail: { verified: boolean } }>(
        gus,
        'mutation ($a: String!) { setNotificationEmail(address: $a) { verified } }',
        { a: to },
      );
    expect((await setAddress(address)).body.data?.setNotificationEmail.verified).toBe(false);
    const check = await mailWith(address, 'Confirm your address');
    const code = /code is (\d{6})/.exec(check.text)?.[1] ?? '';
    const verify = (c: string) =>
      gql<{ verifyNotificationEmail: { verified: boolean } }>(
        gus,
        'mutation ($c: String!) { verifyNotificationEmail(code: $c) { verified } }',
        { c },
      );
    const wrong = code === '000000' ? '111111' : '000000';
    expect(errorCodes(await verify(wrong))).toEqual(['BAD_USER_INPUT']);
    expect((await verify(code)).body.data?.verifyNotificationEmail.verified).toBe(true);

    await convert(gus);
    const notice = await mailWith(address, 'is ready as an MP3');
    expect(notice.subject).toBe('holiday.mp4 is ready as an MP3');
    expect(notice.html).toContain('holiday.mp4');
    const unsubscribe = /<(.+)>/.exec(notice.headers['List-Unsubscribe']?.[0] ?? '')?.[1] ?? '';
    expect(notice.headers['List-Unsubscribe-Post']).toEqual(['List-Unsubscribe=One-Click']);
    // Around the router, straight to the service: refused, whatever the token.
    const around = new URL(unsubscribe);
    const direct = await fetch(
      `${suite.stack.subgraphUrls.notification}${around.pathname}${around.search}`,
      { method: 'POST', body: 'List-Unsubscribe=One-Click' },
    );
    expect(direct.status).toBe(403);
    const clicked = await fetch(unsubscribe, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'List-Unsubscribe=One-Click',
    });
    expect(clicked.status).toBe(200);
    const settings = await gql<{ emailNotifications: { enabled: boolean } }>(
      gus,
      '{ emailNotifications { enabled } }',
    );
    expect(settings.body.data?.emailNotifications.enabled).toBe(false);
    await convert(gus);
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect((await readMail(suite.infra.mailWebUrl, address)).id).toBe(notice.id);

    // A second address, proved by the link of its mail instead of the code.
    const other = `${uniqueName('gus2')}@example.com`;
    await setAddress(other);
    const link = /(http\S+\/notifications\/verify\?token=\S+)/.exec(
      (await mailWith(other, 'Confirm your address')).text,
    )?.[1];
    expect((await fetch(link ?? '')).status).toBe(200);
    const proved = await gql<{ emailNotifications: { address: string; verified: boolean } }>(
      gus,
      '{ emailNotifications { address verified } }',
    );
    expect(proved.body.data?.emailNotifications).toEqual({ address: other, verified: true });
  });

  it('browser push: the payload decrypts at the push service; a 410 removes the subscription', async () => {
    const hal = await newUser();
    const pushService = await startPushEndpoint();
    try {
      const key = await gql<{ vapidPublicKey: string | null }>(hal, '{ vapidPublicKey }');
      expect(key.body.data?.vapidPublicKey).toMatch(/^[A-Za-z0-9_-]{87}$/);
      const subscribe = (subscription: unknown) =>
        gql<{ addPushSubscription: { id: string } }>(
          hal,
          'mutation ($s: PushSubscriptionInput!) { addPushSubscription(subscription: $s) { id } }',
          { s: subscription },
        );
      const browser = pushService.subscriptionFor('hal');
      expect(
        errorCodes(await subscribe({ ...browser, endpoint: 'https://evil.example/p' })),
      ).toEqual(['BAD_USER_INPUT']);
      expect(
        errorCodes(await subscribe({ ...browser, keys: { ...browser.keys, p256dh: 'AAAA' } })),
      ).toEqual(['BAD_USER_INPUT']);
      expect((await subscribe(browser)).body.data?.addPushSubscription.id).toMatch(
        /^[0-9a-f]{24}$/,
      );

      await convert(hal);
      expect(JSON.parse(await pushService.received('hal'))).toMatchObject({
        title: 'holiday.mp4 is ready as an MP3',
      });

      pushService.answerWith('hal', 410);
      await convert(hal);
      await expect
        .poll(
          async () =>
            (await gql<{ pushSubscriptions: unknown[] }>(hal, '{ pushSubscriptions { id } }')).body
              .data?.pushSubscriptions.length,
          { timeout: 10_000 },
        )
        .toBe(0);

      const worker = await fetch(`${suite.stack.routerUrl}/pushWorker.js`);
      expect(worker.status).toBe(200);
      expect(worker.headers.get('cache-control')).toBe('no-cache');
      expect(await worker.text()).toContain('showNotification');
    } finally {
      await pushService.close();
    }
  });

  /** The newest mail to `to` once its subject contains `subject`. */
  async function mailWith(to: string, subject: string) {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const mail = await readMail(suite.infra.mailWebUrl, to, { timeoutMs: 20_000 });
      if (mail.subject.includes(subject)) return mail;
      if (Date.now() > deadline) throw new Error(`no mail "${subject}" to ${to}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  /** A conversion.finished as the conversion service sends it, of a conversion made up here. */
  function finishedEvent(user: TestUser, status: 'SUCCEEDED' | 'FAILED') {
    return {
      type: 'conversion.finished',
      version: 1,
      conversionId: new ObjectId().toHexString(),
      videoId: new ObjectId().toHexString(),
      ownerId: user.id,
      status,
      filename: 'made-up.mp4',
      errorCode: status === 'FAILED' ? 'NO_AUDIO_STREAM' : null,
      audioId: null,
      finishedAt: new Date().toISOString(),
    };
  }

  /** Publishes each event `times` times (a redelivery), straight to the stack's exchange. */
  async function publish(events: Record<string, unknown>[], times: number) {
    const connection = await amqp.connect(suite.infra.amqpUrl);
    const channel = await connection.createConfirmChannel();
    const { exchange } = topologyNames(suite.prefix);
    for (const event of events) {
      for (let i = 0; i < times; i++) {
        channel.publish(exchange, 'conversion.finished', Buffer.from(JSON.stringify(event)), {
          persistent: true,
        });
      }
    }
    await channel.waitForConfirms();
    await connection.close();
  }

  /** From the conversion's finishedAt to its webhook's arrival at `path`, in ms. */
  async function finalToWebhookMs(user: TestUser, path: string) {
    const [hook] = receiver.received(path);
    const { data } = JSON.parse(hook!.body) as { data: { conversionId: string } };
    const state = await postGraphQL<{ conversion: { finishedAt: string } }>(
      suite.stack.graphqlUrl,
      'query ($id: ID!) { conversion(id: $id) { finishedAt } }',
      { token: user.token, variables: { id: data.conversionId } },
    );
    return hook!.at - Date.parse(state.body.data?.conversion.finishedAt ?? '');
  }
});
