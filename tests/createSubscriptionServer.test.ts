import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildSchema, type GraphQLFormattedError } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import { Registry } from 'prom-client';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { SCHEMA_PATHS } from '../lib/contracts/subgraphs.js';
import { createLogger } from '../lib/platform/logger.js';
import { createConversionEvents } from '../router/createConversionEvents.js';
import type { SubscriptionLimits } from '../router/createSubscriptionGuards.js';
import { createSubscriptionServer } from '../router/createSubscriptionServer.js';
import { createFakeEventBroker } from './helpers/fakes/createFakeEventBroker.js';
import { createFakeGateway, type FakeGateway } from './helpers/fakes/createFakeGateway.js';
import {
  createFakeTokenIssuer,
  type FakeTokenIssuer,
} from './helpers/fakes/createFakeTokenIssuer.js';

/*
 * The router's graphql-ws server in process, on 127.0.0.1, with its two edges faked: events
 * come from a fake broker through the real createConversionEvents, and the gateway is an Apollo
 * Server over the public schema that answers from memory with the conversion subgraph's owner
 * check. Tokens are real EdDSA JWTs from a throwaway key, verified as the router verifies them.
 */

// A step that never comes fails in seconds, not at the tier's minute.
vi.setConfig({ testTimeout: 10_000 });

const ALICE = 'a11ce0000000000000000001';
const BOB = 'b0b000000000000000000002';
const VIDEO = 'f11e00000000000000000003';
const CONVERSION = 'c0de00000000000000000004';
const NOWHERE = 'dead00000000000000000005';

const LIMITS: SubscriptionLimits = {
  perConnection: 2,
  socketsPerUser: 2,
  socketsPerAddress: 6,
  subscriptionsPerUser: 3,
  subscriptionsPerAddress: 10,
  queriesPerUserPerSecond: 100,
};

const watchQuery = (id: string, selection = 'status progress') =>
  `subscription { conversionUpdated(id: "${id}") { ${selection} } }`;

let issuer: FakeTokenIssuer;
let gateway: FakeGateway;
const cleanups: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  issuer = await createFakeTokenIssuer();
});
beforeEach(async () => {
  gateway = await createFakeGateway();
  gateway.conversions.set(CONVERSION, {
    id: CONVERSION,
    videoId: VIDEO,
    ownerId: ALICE,
    status: 'RUNNING',
    progress: 0.1,
  });
  cleanups.push(() => gateway.stop());
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startServer(limits: Partial<SubscriptionLimits> = {}) {
  const broker = createFakeEventBroker();
  const log = createLogger('router', 'silent');
  const subscriptions = createSubscriptionServer({
    apollo: gateway.apollo,
    schema: buildSchema(readFileSync(SCHEMA_PATHS.api, 'utf8')),
    introspection: false,
    verifyToken: issuer.verify,
    events: createConversionEvents(broker, log),
    trustedProxyHops: 1,
    limits: { ...LIMITS, ...limits },
    maxMessageBytes: 65_536,
    keepAliveMs: 12_000,
    registry: new Registry(),
    log,
  });
  const server: Server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  subscriptions.attach(server);
  cleanups.push(async () => {
    await subscriptions.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
  return { url, broker };
}

/** A graphql-ws client of the SDK's kind, that never retries. */
function connect(url: string, token: string): Client {
  const client = createClient({
    url,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${token}` },
    retryAttempts: 0,
  });
  cleanups.push(() => client.dispose());
  return client;
}

interface Followed {
  results: unknown[];
  /** Errors the subscription was refused or ended with, a close code, or nothing (complete). */
  ended: Promise<{ errors?: readonly GraphQLFormattedError[]; closed?: number }>;
}

function follow(client: Client, query: string): Followed {
  const results: unknown[] = [];
  const ended = new Promise<{ errors?: readonly GraphQLFormattedError[]; closed?: number }>(
    (resolve) =>
      client.subscribe(
        { query },
        {
          next: (result) => results.push(result),
          error: (error) =>
            resolve(
              Array.isArray(error)
                ? { errors: error as GraphQLFormattedError[] }
                : { closed: (error as { code: number }).code },
            ),
          complete: () => resolve({}),
        },
      ),
  );
  return { results, ended };
}

const codes = (ended: Awaited<Followed['ended']>) =>
  (ended.errors ?? []).map((error) => error.extensions?.code);

/** A raw graphql-transport-ws socket: sends connection_init, tells when acked and closed. */
function openSocket(url: string, token?: string, forwardedFor?: string) {
  const socket = new WebSocket(url, 'graphql-transport-ws', {
    headers: forwardedFor ? { 'x-forwarded-for': forwardedFor } : {},
  });
  cleanups.push(() => socket.terminate());
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  const acked = new Promise<boolean>((resolve) => {
    socket.on('message', (data: Buffer) =>
      resolve((JSON.parse(data.toString('utf8')) as { type: string }).type === 'connection_ack'),
    );
    socket.on('close', () => resolve(false));
  });
  socket.on('open', () =>
    socket.send(
      JSON.stringify({
        type: 'connection_init',
        payload: token ? { authorization: `Bearer ${token}` } : {},
      }),
    ),
  );
  return { socket, closed, acked };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('createSubscriptionServer: authentication at connection_init', () => {
  it('closes 4401 without a token, 4403 with an expired one or one made with another key', async () => {
    const { url } = await startServer();
    expect((await openSocket(url).closed).code).toBe(4401);
    const forged = await createFakeTokenIssuer();
    const otherKey = await forged.issue(ALICE);
    expect((await openSocket(url, otherKey).closed).code).toBe(4403);
    const expired = await issuer.issue(ALICE, -60);
    expect((await openSocket(url, expired).closed).code).toBe(4403);
    expect(gateway.queriesBy).toEqual([]);
  });

  it('closes the socket 4403 once its token expires, ending its subscription', async () => {
    const { url } = await startServer();
    const { socket, acked, closed } = openSocket(url, await issuer.issue(ALICE, 2));
    expect(await acked).toBe(true);
    socket.send(
      JSON.stringify({ id: '1', type: 'subscribe', payload: { query: watchQuery(CONVERSION) } }),
    );
    const started = Date.now();
    expect(await closed).toEqual({ code: 4403, reason: 'Forbidden: token expired' });
    expect(Date.now() - started).toBeLessThan(2_500);
  });
});

describe('createSubscriptionServer: following a conversion', () => {
  it('sends its owner each state the events announce, the final one last, then completes', async () => {
    const { url, broker } = await startServer();
    const watched = follow(connect(url, await issuer.issue(ALICE)), watchQuery(CONVERSION));
    await vi.waitFor(() => expect(watched.results).toHaveLength(1));
    const conversion = gateway.conversions.get(CONVERSION)!;
    conversion.progress = 0.5;
    broker.publish({ ...event(ALICE), status: 'RUNNING', progress: 0.5 });
    await vi.waitFor(() => expect(watched.results).toHaveLength(2));
    conversion.status = 'SUCCEEDED';
    conversion.progress = 1;
    broker.publish({ ...event(ALICE), status: 'SUCCEEDED', progress: 1 });
    expect(await watched.ended).toEqual({});
    expect(watched.results).toEqual(
      [
        ['RUNNING', 0.1],
        ['RUNNING', 0.5],
        ['SUCCEEDED', 1],
      ].map(([status, progress]) => ({ data: { conversionUpdated: { status, progress } } })),
    );
  });
});

describe('createSubscriptionServer: the owner check', () => {
  it("refuses another user's conversion with NOT_FOUND, as an id that does not exist", async () => {
    const { url, broker } = await startServer();
    const bob = connect(url, await issuer.issue(BOB));
    const theirs = follow(bob, watchQuery(CONVERSION));
    const nowhere = follow(bob, watchQuery(NOWHERE));
    expect(codes(await theirs.ended)).toEqual(['NOT_FOUND']);
    expect(codes(await nowhere.ended)).toEqual(['NOT_FOUND']);
    expect((await theirs.ended).errors?.[0]?.message).toBe(
      (await nowhere.ended).errors?.[0]?.message,
    );
    broker.publish({ ...event(ALICE), status: 'SUCCEEDED', progress: 1 });
    await sleep(100);
    expect(theirs.results).toEqual([]);
    expect(gateway.queriesBy).toEqual([BOB, BOB]);
  });

  it('never shares the owner’s query with another user watching the same conversion at once', async () => {
    const { url } = await startServer();
    const release = gateway.hold();
    const alice = follow(connect(url, await issuer.issue(ALICE)), watchQuery(CONVERSION));
    await vi.waitFor(() => expect(gateway.queriesBy).toEqual([ALICE]));
    // Bob asks for the very same selection while Alice's query is still running.
    const bob = follow(connect(url, await issuer.issue(BOB)), watchQuery(CONVERSION));
    await sleep(200);
    release();
    await vi.waitFor(() => expect(alice.results).toHaveLength(1));
    await sleep(50);
    expect(bob.results).toEqual([]);
    expect(codes(await bob.ended)).toEqual(['NOT_FOUND']);
  });

  it("wakes a watch for its owner's events only", async () => {
    const { url, broker } = await startServer();
    const watched = follow(connect(url, await issuer.issue(ALICE)), watchQuery(CONVERSION));
    await vi.waitFor(() => expect(watched.results).toHaveLength(1));
    // The same conversion id, announced as another user's: no query, nothing sent.
    broker.publish({ ...event(BOB), status: 'SUCCEEDED', progress: 1 });
    await sleep(150);
    expect(gateway.queriesBy).toEqual([ALICE]);
    broker.publish({ ...event(ALICE), status: 'RUNNING', progress: 0.2 });
    await vi.waitFor(() => expect(gateway.queriesBy).toEqual([ALICE, ALICE]));
  });
});

describe('createSubscriptionServer: limits', () => {
  it('closes 4429 past the sockets of one user, and takes one again once a place is free', async () => {
    const { url } = await startServer();
    const token = await issuer.issue(ALICE);
    const first = openSocket(url, token);
    const second = openSocket(url, token);
    expect([await first.acked, await second.acked]).toEqual([true, true]);
    expect(await openSocket(url, token).closed).toEqual({
      code: 4429,
      reason: 'At most 2 sockets per user',
    });
    first.socket.close();
    await first.closed;
    expect(await openSocket(url, token).acked).toBe(true);
  });

  it('closes 4429 past the sockets of one client address before reading a token', async () => {
    const { url } = await startServer({ socketsPerAddress: 2 });
    const held = [
      openSocket(url, undefined, '2001:db8::1'),
      openSocket(url, undefined, '2001:db8::2'),
    ];
    // Same /64: the same client.
    const third = openSocket(url, await issuer.issue(ALICE), '2001:db8::3');
    expect(await third.closed).toEqual({
      code: 4429,
      reason: 'At most 2 sockets per client address',
    });
    expect(await openSocket(url, await issuer.issue(ALICE), '2001:db9::1').acked).toBe(true);
    await Promise.all(held.map((socket) => socket.closed));
  });

  it('refuses subscriptions past the per-socket and per-user limits with RATE_LIMITED', async () => {
    const { url } = await startServer();
    const token = await issuer.issue(ALICE);
    const one = connect(url, token);
    const open = [
      follow(one, watchQuery(CONVERSION)),
      follow(one, watchQuery(CONVERSION, 'status')),
    ];
    const answered = (n: number) =>
      vi.waitFor(() => expect(open.map((watch) => watch.results.length)).toEqual(Array(n).fill(1)));
    await answered(2);
    const third = await follow(one, watchQuery(CONVERSION, 'progress')).ended;
    expect(codes(third)).toEqual(['RATE_LIMITED']);
    expect(third.errors?.[0]?.extensions).toMatchObject({
      reason: 'SUBSCRIPTIONS_PER_CONNECTION',
      limit: 2,
    });
    const two = connect(url, token);
    open.push(follow(two, watchQuery(CONVERSION, 'id')));
    await answered(3);
    const fourth = await follow(two, watchQuery(CONVERSION, 'id status')).ended;
    expect(fourth.errors?.[0]?.extensions).toMatchObject({
      code: 'RATE_LIMITED',
      reason: 'SUBSCRIPTIONS_PER_USER',
      limit: 3,
    });
    expect(open.map((watch) => watch.results.length)).toEqual([1, 1, 1]);
  });

  it("holds one user's gateway queries to the budget: a burst of twice the rate, then the rate", async () => {
    const { url } = await startServer({
      queriesPerUserPerSecond: 2,
      perConnection: 10,
      subscriptionsPerUser: 10,
    });
    const client = connect(url, await issuer.issue(ALICE));
    const selections = ['status', 'progress', 'id', 'id status', 'id progress', 'progress status'];
    const watches = selections.map((selection) =>
      follow(client, watchQuery(CONVERSION, selection)),
    );
    await vi.waitFor(() => expect(gateway.queriesBy).toHaveLength(4));
    await sleep(250);
    expect(gateway.queriesBy).toHaveLength(4);
    await vi.waitFor(
      () => expect(watches.every((watch) => watch.results.length === 1)).toBe(true),
      {
        timeout: 2_000,
      },
    );
  });
});

describe('createSubscriptionServer: refusals', () => {
  it.each(['@skip(if: false)', '@include(if: true)'])(
    'refuses %s on the subscription field at once, before any query',
    async (directive) => {
      const { url } = await startServer();
      const ended = await follow(
        connect(url, await issuer.issue(ALICE)),
        `subscription { conversionUpdated(id: "${CONVERSION}") ${directive} { status } }`,
      ).ended;
      expect(codes(ended)).toEqual(['BAD_REQUEST']);
      expect(ended.errors?.[0]?.message).toMatch(/is not allowed on the subscription field/);
      expect(gateway.queriesBy).toEqual([]);
    },
  );
});

function event(ownerId: string) {
  return { conversionId: CONVERSION, videoId: VIDEO, ownerId };
}
