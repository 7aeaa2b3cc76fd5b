import { readFileSync } from 'node:fs';
import amqp from 'amqplib';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { topologyNames } from '../lib/broker/topology.js';
import { fromRoot } from '../lib/platform/projectRoot.js';
import { spawnStack, type RunningStack } from '../scripts/spawnStack.js';
import { signUpUser, type TestUser } from './helpers/authOperations.js';
import { conversionUntil } from './helpers/conversionState.js';
import { makeVideo } from './helpers/fixtures.js';
import { signRealToken } from './helpers/forgeTokens.js';
import { postGraphQL } from './helpers/graphql.js';
import { uploadVideoId } from './helpers/multipartUpload.js';
import { expectSecurityTable } from './helpers/expectSecurityTable.js';
import { median } from './helpers/timingOutcome.js';
import { uniqueName } from './helpers/uniqueName.js';
import { openSocket, type RawSocket, type RawSubscription } from './helpers/watch.js';

/**
 * What one client can make the router do over graphql-ws (SECURITY.md, "Subscriptions"): every
 * row of that table is tried here and the table must say exactly what happened. The stack has
 * no worker, so conversions stay QUEUED, and the test publishes their progress events itself,
 * every 0.5 s as a worker does: the load is the same on every run, and no ffmpeg shares the CPU
 * with the latency being measured. The router believes one proxy hop, so each socket names its
 * client address in X-Forwarded-For.
 */
const LIMITS = {
  socketsPerUser: 10,
  subscriptionsPerUser: 100,
  // Below the per-user caps here, so that one address's two users reach them.
  socketsPerAddress: 8,
  subscriptionsPerAddress: 50,
  queriesPerSecond: 10,
};
/** 5,000 subscriptions: 50 sockets of 100, each socket from an address of its own. */
const ATTACK_SOCKETS = 50;
const ATTACK_PER_SOCKET = 100;
const PROGRESS_EVERY_MS = 500;

/** Each subscription selects its own alias, so no two share a query, and a 100-node page. */
const heavySubscription = (n: number) => /* GraphQL */ `
  subscription ($id: ID) {
    conversionUpdated(id: $id) {
      s${n}: status
      video { conversions(first: 100) { edges { node { id status progress } } } }
    }
  }
`;
const LIGHT_SUBSCRIPTION = /* GraphQL */ `
  subscription ($id: ID) {
    conversionUpdated(id: $id) {
      id
      status
    }
  }
`;

describe('subscription abuse (SECURITY.md)', { timeout: 120_000 }, () => {
  const infra = inject('infra');
  const prefix = `${uniqueName('subabuse')}_`;
  const outcomes = new Map<string, string>();
  const sockets: RawSocket[] = [];
  let stack: RunningStack;
  let attacker: TestUser;
  let attackVideo: string;
  /** Two users behind one address (an office's NAT), and one who only asks simple queries. */
  let office: [TestUser, string][];
  let bystander: TestUser;

  const socket = (token: string, address: string) => {
    const opened = openSocket(stack.graphqlUrl, token, { address });
    sockets.push(opened);
    return opened;
  };

  beforeAll(async () => {
    stack = await spawnStack(infra, prefix, {
      REELFLUX_PROCESSES: 'auth,media,conversion,notification,router',
      TRUSTED_PROXY_HOPS: '1',
      MAX_WEBSOCKETS_PER_USER: String(LIMITS.socketsPerUser),
      MAX_SUBSCRIPTIONS_PER_USER: String(LIMITS.subscriptionsPerUser),
      MAX_WEBSOCKETS_PER_ADDRESS: String(LIMITS.socketsPerAddress),
      MAX_SUBSCRIPTIONS_PER_ADDRESS: String(LIMITS.subscriptionsPerAddress),
      SUBSCRIPTION_QUERIES_PER_USER_PER_SECOND: String(LIMITS.queriesPerSecond),
    });
    const users = await Promise.all(
      [1, 2, 3, 4].map((n) => signUpUser(stack.graphqlUrl, { 'x-forwarded-for': `192.0.2.${n}` })),
    );
    [attacker, bystander] = users as [TestUser, TestUser];
    const clip = makeVideo(infra.ffmpegPath, 1);
    const uploads = await Promise.all(
      [attacker, ...users.slice(2)].map(async (user) => {
        const id = await uploadVideoId(stack.graphqlUrl, clip, { token: user.token });
        // Its conversion exists (the upload's event was handled) and waits: there is no worker.
        await conversionUntil(stack.graphqlUrl, user.token, id, {
          done: (state) => state.status === 'QUEUED',
        });
        return [user, id] as [TestUser, string];
      }),
    );
    attackVideo = uploads[0]?.[1] ?? '';
    office = uploads.slice(1);
  });
  afterAll(async () => {
    for (const open of sockets) open.close();
    await stack?.stop();
  });

  it('a subscription with @skip or @include on its field ends with an error at once', async () => {
    const ending = async (query: string, variables: Record<string, unknown>) => {
      const subscribed = socket(attacker.token, '198.18.0.1');
      expect(await subscribed.opened).toBe('ack');
      const subscription = subscribed.subscribe(query, variables);
      const end = await Promise.race([
        subscription.ended,
        new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 5_000)),
      ]);
      subscribed.close();
      if (!end) return `still open after 5 s, ${subscription.results.length} sent`;
      return end.kind === 'error' ? `error: ${endCode(subscription)}` : endCode(subscription);
    };
    outcomes.set(
      'subscription.skipRoot',
      await ending('subscription ($id: ID) { conversionUpdated(id: $id) @skip(if: true) { id } }', {
        id: attackVideo,
      }),
    );
    outcomes.set(
      'subscription.includeRoot',
      await ending(
        'subscription ($id: ID, $on: Boolean!) { conversionUpdated(id: $id) @include(if: $on) { id } }',
        { id: attackVideo, on: false },
      ),
    );
  });

  it('closes a socket when its token expires', async () => {
    const [user, video] = office[0] as [TestUser, string];
    const privateKeyPem = readFileSync(
      infra.jwtPrivateKeyFile ?? fromRoot('.local', 'keys', 'jwt-ed25519.pem'),
      'utf8',
    );
    const exp = Math.floor(Date.now() / 1000) + 4;
    const token = await signRealToken(
      { privateKeyPem, issuer: 'reelflux', audience: 'reelflux' },
      user.id,
      exp,
    );
    const subscribed = socket(token, '198.18.0.2');
    expect(await subscribed.opened).toBe('ack');
    const subscription = subscribed.subscribe(LIGHT_SUBSCRIPTION, { id: video });
    await until(() => subscription.results.length > 0, 5_000);
    const code = await Promise.race([
      subscribed.closed,
      new Promise<undefined>((resolve) =>
        setTimeout(() => resolve(undefined), exp * 1000 + 3_000 - Date.now()),
      ),
    ]);
    const lateMs = Date.now() - exp * 1000;
    outcomes.set(
      'subscription.tokenExpiry',
      code === undefined
        ? 'open 3 s after exp'
        : `close ${code} ${lateMs >= -1_000 && lateMs <= 1_500 ? 'at exp' : `${lateMs} ms after exp`}`,
    );
  });

  it("one account's 5,000 subscriptions: capped, re-queried at a bounded rate, and another user's queries keep their speed", async () => {
    const meP50 = async (seconds: number) => {
      const timings: number[] = [];
      const until = Date.now() + seconds * 1000;
      while (Date.now() < until) {
        const started = performance.now();
        const answer = await postGraphQL(stack.graphqlUrl, '{ me { id } }', {
          token: bystander.token,
        });
        timings.push(performance.now() - started);
        expect(answer.body.data).toEqual({ me: { id: bystander.id } });
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return median(timings);
    };
    // What one re-query costs the conversion subgraph, asked once over HTTP while all is quiet.
    const calibration = await subgraphQueries();
    await postGraphQL(
      stack.graphqlUrl,
      `query ($id: ID!) { conversion(id: $id) { status video { conversions(first: 100) { edges { node { id status progress } } } } } }`,
      { token: attacker.token, variables: { id: attackVideo } },
    );
    const perOperation = (await subgraphQueries()) - calibration;
    expect(perOperation).toBeGreaterThan(0);
    // Warm up (connections, the token cache, the query plan), then the router idle.
    await meP50(1);
    const idle = await meP50(3);

    const attack = Array.from({ length: ATTACK_SOCKETS }, (_, i) =>
      socket(attacker.token, `198.51.100.${i + 1}`),
    );
    const opened = await Promise.all(attack.map((s) => s.opened));
    const accepted = attack.filter((_, i) => opened[i] === 'ack');
    const refusedSockets = opened.filter((o): o is number => o !== 'ack');
    const subscriptions: RawSubscription[] = accepted.flatMap((s, i) =>
      Array.from({ length: ATTACK_PER_SOCKET }, (_, j) =>
        s.subscribe(heavySubscription(i * ATTACK_PER_SOCKET + j), { id: attackVideo }),
      ),
    );
    // Each is refused at once or, within its owner's re-query budget, gets its first state.
    await until(() => subscriptions.every((s) => s.end || s.results.length > 0), 30_000);
    const open = subscriptions.filter((s) => !s.end);
    outcomes.set(
      'subscription.capPerUser',
      `${accepted.length} sockets, ${tally(refusedSockets.map((code) => `close ${code}`))}; ` +
        `${open.length} subscriptions, ${tally(subscriptions.filter((s) => s.end).map(endCode))}`,
    );

    // Progress every 0.5 s on the attacker's conversion, as a worker would publish it.
    const connection = await amqp.connect(infra.amqpUrl);
    const channel = await connection.createChannel();
    let progress = 0;
    const publish = (status: string) =>
      channel.publish(
        topologyNames(prefix).exchange,
        'conversion.updated',
        Buffer.from(
          JSON.stringify({
            type: 'conversion.updated',
            version: 1,
            conversionId: attackVideo,
            videoId: attackVideo,
            ownerId: attacker.id,
            status,
            progress: (progress = Math.min(1, progress + 0.01)),
          }),
        ),
      );
    const ticker = setInterval(() => publish('RUNNING'), PROGRESS_EVERY_MS);
    let loaded: number;
    let requeries: number;
    const windowSeconds = 6;
    try {
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const before = await subgraphQueries();
      loaded = await meP50(windowSeconds);
      requeries = ((await subgraphQueries()) - before) / perOperation;
    } finally {
      clearInterval(ticker);
    }
    process.stdout.write(
      `subscriptionAbuse: me p50 idle ${idle.toFixed(1)} ms, under load ${loaded.toFixed(1)} ms; ` +
        `${(requeries / windowSeconds).toFixed(1)} subscription re-queries a second ` +
        `(${perOperation} conversion-subgraph requests each)\n`,
    );
    outcomes.set(
      'subscription.requeryRate',
      requeries <= LIMITS.queriesPerSecond * (windowSeconds + 2)
        ? `at most ${LIMITS.queriesPerSecond} a second`
        : `${Math.round(requeries / windowSeconds)} a second`,
    );
    outcomes.set(
      'subscription.otherUserLatency',
      loaded <= 2 * idle
        ? 'p50 within 2× of idle'
        : `p50 ${(loaded / idle).toFixed(1)}× idle (${idle.toFixed(1)} → ${loaded.toFixed(1)} ms)`,
    );

    // The final state still reaches every open subscription, through the same budget.
    const cancelled = await postGraphQL(
      stack.graphqlUrl,
      'mutation ($id: ID!) { cancelConversion(id: $id) { status } }',
      { token: attacker.token, variables: { id: attackVideo } },
    );
    expect(cancelled.body.data).toEqual({ cancelConversion: { status: 'CANCELLED' } });
    await until(() => open.every((s) => s.end), 30_000);
    const final = open.filter(
      (s) =>
        s.end?.kind === 'complete' &&
        Object.values(
          (s.results.at(-1)?.data?.conversionUpdated ?? {}) as Record<string, unknown>,
        ).includes('CANCELLED'),
    );
    await connection.close();
    outcomes.set(
      'subscription.finalState',
      final.length === open.length
        ? 'every open one got CANCELLED, then complete'
        : `${final.length} of ${open.length} got CANCELLED, then complete`,
    );
    for (const s of accepted) s.close();
  });

  it('caps one address across its users', async () => {
    const address = '203.0.113.7';
    const attempts = office.flatMap(([user, video]) =>
      Array.from({ length: 5 }, () => ({ open: socket(user.token, address), video })),
    );
    const opened = await Promise.all(attempts.map((a) => a.open.opened));
    const accepted = attempts.filter((_, i) => opened[i] === 'ack');
    const refusedSockets = opened.filter((o): o is number => o !== 'ack');
    const subscriptions = accepted.flatMap(({ open, video }) =>
      Array.from({ length: 10 }, () => open.subscribe(LIGHT_SUBSCRIPTION, { id: video })),
    );
    await until(() => subscriptions.every((s) => s.end || s.results.length > 0), 15_000);
    outcomes.set(
      'subscription.capPerAddress',
      `${accepted.length} sockets, ${tally(refusedSockets.map((code) => `close ${code}`))}; ` +
        `${subscriptions.filter((s) => !s.end).length} subscriptions, ` +
        tally(subscriptions.filter((s) => s.end).map(endCode)),
    );

    // Places come back when sockets close: the address may open one again.
    for (const { open } of accepted) open.close();
    await expect.poll(() => routerGauge('graphql_websockets_open'), { timeout: 5_000 }).toBe(0);
    expect(await routerGauge('graphql_subscriptions_active')).toBe(0);
    const again = socket(office[0]?.[0].token ?? '', address);
    expect(await again.opened).toBe('ack');
    again.close();
  });

  it('SECURITY.md states exactly what happened, and nothing restarted', () => {
    expect(stack.restarts(), stack.output()).toBe(0);
    expectSecurityTable(outcomes, 'Subscriptions: what we tried, what happened');
  });

  async function subgraphQueries(): Promise<number> {
    const metrics = await (await fetch(`${stack.internalUrls.conversion}/metrics`)).text();
    let total = 0;
    for (const [, count] of metrics.matchAll(
      /^http_requests_total\{[^}]*route="\/graphql"[^}]*\} (\d+)/gm,
    )) {
      total += Number(count);
    }
    return total;
  }

  async function routerGauge(name: string): Promise<number> {
    const metrics = await (await fetch(`${stack.internalUrls.router}/metrics`)).text();
    return Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+)`, 'm').exec(metrics)?.[1]);
  }
});

function codeOf(error: { extensions?: Record<string, unknown> } | undefined): string {
  const code = error?.extensions?.code;
  return typeof code === 'string' ? code : 'none';
}

function endCode(subscription: RawSubscription): string {
  const { end } = subscription;
  if (end?.kind === 'error') return codeOf(end.errors[0]);
  if (end?.kind === 'closed') return `close ${end.code}`;
  return end?.kind ?? 'open';
}

/** "40 × close 4429", or "none refused". */
function tally(codes: string[]): string {
  if (codes.length === 0) return 'none refused';
  const counts = new Map<string, number>();
  for (const code of codes) counts.set(code, (counts.get(code) ?? 0) + 1);
  return [...counts]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([code, n]) => `${n.toLocaleString('en')} × ${code}`)
    .join(', ');
}

/** Polls `done` every 100 ms until it holds or `ms` have passed (then the caller reads what is). */
async function until(done: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done() && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
