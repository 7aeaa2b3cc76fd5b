import { createServer, request, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, totalmem } from 'node:os';
import amqp from 'amqplib';
import { ObjectId } from 'mongodb';
import { topologyNames } from '../lib/broker/topology.js';
import type { ConversionFinished } from '../lib/contracts/messages.js';
import { ensureInfrastructure } from '../scripts/ensureInfrastructure.js';
import { freePort, spawnStack, type RunningStack } from '../scripts/spawnStack.js';
import { createReelfluxClient } from '../sdk/index.js';
import { signUpUser, type TestUser } from '../tests/helpers/authOperations.js';
import { postGraphQL } from '../tests/helpers/graphql.js';
import { bench720p, rssOf, uploadBenchFile } from './benchClient.js';
import { percentile } from './measureLatency.js';

/**
 * `npm run bench:notify`: how soon and how fast the notification service sends webhooks.
 *
 * 1. Latency. CONVERSIONS real conversions of a 1 s 720p clip, one after another, by one user
 *    with one endpoint on a loopback receiver: from the conversion's `finishedAt` to the
 *    webhook's arrival (`Date.now()` on arrival; one machine, one clock). Baseline in the same
 *    run: a plain HTTP POST of the same body from this process to the same receiver, on a fresh
 *    connection as the service opens one for each attempt. Goal: p95 ≤ 200 ms.
 * 2. Fan-out with dead endpoints. USERS users with ENDPOINTS_PER_USER endpoints each, the first
 *    of each dead, and EVENTS synthetic `conversion.finished` events published at once straight
 *    to the exchange, spread over the users: one delivery per event and endpoint. The events
 *    are made up (no conversion runs) because the service under test is notification, not
 *    ffmpeg. Twice, each on a fresh stack: dead endpoints that take the request and never
 *    answer (each attempt waits out WEBHOOK_TIMEOUT_SECONDS), then a port that refuses. Reports
 *    deliveries/s to the live endpoints until all of theirs arrived, publish → arrival
 *    p50/p95, and the notification process's resident memory before and at its peak.
 *
 * Failed attempts are retried on the default schedule (5 s, then 5 min, …).
 */
const CONVERSIONS = Number(process.env.BENCH_NOTIFY_CONVERSIONS ?? 30);
const EVENTS = Number(process.env.BENCH_NOTIFY_EVENTS ?? 1000);
const USERS = 10;
const ENDPOINTS_PER_USER = 10;
const TIMEOUT_SECONDS = 2;
/** How long a fan-out round waits for the live endpoints' webhooks before it reports what came. */
const WINDOW_MS = 1000 * Number(process.env.BENCH_NOTIFY_WINDOW_SECONDS ?? 60);
const GOAL_P95_MS = 200;

const ADD_ENDPOINT = /* GraphQL */ `
  mutation ($input: WebhookEndpointInput!) {
    addWebhookEndpoint(input: $input) {
      endpoint {
        id
      }
    }
  }
`;

interface Arrival {
  path: string;
  /** Date.now() once the body is in, to compare with times the stack reports. */
  at: number;
  /** performance.now() at the same moment, for the baseline sent from this process. */
  atPrecise: number;
  headers: IncomingHttpHeaders;
  body: string;
  conversionId: string;
}

/** A loopback webhook receiver that keeps every arrival. */
interface Receiver {
  url(path: string): string;
  arrivals: Arrival[];
  /** Requests answered 200 (every path but /dead/…). */
  answered(): number;
  /** Requests to /dead/…: read, then never answered, until the sender gives up. */
  held(): number;
  close(): Promise<void>;
}

async function startReceiver(): Promise<Receiver> {
  const arrivals: Arrival[] = [];
  let answered = 0;
  let held = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const at = Date.now();
      const atPrecise = performance.now();
      const path = req.url ?? '/';
      if (path.startsWith('/dead/')) {
        held++;
        return;
      }
      const body = Buffer.concat(chunks).toString('utf8');
      const { data } = JSON.parse(body) as { data: { conversionId: string } };
      arrivals.push({
        path,
        at,
        atPrecise,
        headers: req.headers,
        body,
        conversionId: data.conversionId,
      });
      answered++;
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: (path) => `http://127.0.0.1:${port}${path}`,
    arrivals,
    answered: () => answered,
    held: () => held,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Resolves once `done()` holds, checked every 10 ms; false if `timeoutMs` passed first. */
async function until(done: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!done()) {
    if (performance.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return true;
}

async function addEndpoint(stack: RunningStack, user: TestUser, url: string): Promise<void> {
  const added = await postGraphQL<{ addWebhookEndpoint: { endpoint: { id: string } } }>(
    stack.graphqlUrl,
    ADD_ENDPOINT,
    { token: user.token, variables: { input: { url } } },
  );
  if (!added.body.data?.addWebhookEndpoint) throw new Error(JSON.stringify(added.body));
}

/** POSTs `body` on a fresh connection, as the service sends each attempt; resolves on the answer. */
function plainPost(url: string, headers: IncomingHttpHeaders, body: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method: 'POST',
      agent: false,
      headers: {
        'content-type': 'application/json',
        'webhook-id': headers['webhook-id'] ?? '',
        'webhook-timestamp': headers['webhook-timestamp'] ?? '',
        'webhook-signature': headers['webhook-signature'] ?? '',
        'content-length': Buffer.byteLength(body),
      },
    });
    req.on('response', (res) => {
      res.resume();
      res.on('end', resolve);
    });
    req.on('error', reject);
    req.end(body);
  });
}

const runStarted = performance.now();
const { stop: stopInfra, ...infra } = await ensureInfrastructure();
const clip = bench720p(infra.ffmpegPath, 1);
const stackEnv = {
  WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true',
  WEBHOOK_ALLOW_HTTP: 'true',
  WEBHOOK_TIMEOUT_SECONDS: String(TIMEOUT_SECONDS),
  WEBHOOK_ENDPOINTS_PER_USER: String(ENDPOINTS_PER_USER),
};

/**
 * (1): ms from each conversion's finishedAt to its webhook's arrival, and ms from the start of
 * a plain POST of the same body to its arrival, CONVERSIONS of each.
 */
async function finalStateToWebhook() {
  const stack = await spawnStack(infra, `bench${Date.now().toString(36)}_`, stackEnv);
  const receiver = await startReceiver();
  try {
    const user = await signUpUser(stack.graphqlUrl);
    await addEndpoint(stack, user, receiver.url('/single'));
    const reelflux = createReelfluxClient({ url: stack.graphqlUrl, token: user.token });
    const service: number[] = [];
    for (let i = 0; i < CONVERSIONS; i++) {
      const id = await uploadBenchFile(stack.graphqlUrl, user.token, clip);
      const arrived = () => receiver.arrivals.find((a) => a.conversionId === id);
      if (!(await until(() => arrived() !== undefined, 60_000))) {
        throw new Error(`no webhook for conversion ${id} within 60 s`);
      }
      const { status, finishedAt } = await reelflux.conversion(id);
      if (status !== 'SUCCEEDED' || !finishedAt) throw new Error(`conversion ${id} ${status}`);
      service.push((arrived()?.at ?? NaN) - Date.parse(finishedAt));
    }
    const sample = receiver.arrivals.at(-1);
    if (!sample) throw new Error('no webhook arrived');
    const baseline: number[] = [];
    // One unmeasured POST first: the first request of a process pays for loading its code.
    for (let i = -1; i < CONVERSIONS; i++) {
      const conversionId = `baseline-${i}`;
      const payload = JSON.parse(sample.body) as { data: Record<string, unknown> };
      const body = JSON.stringify({ ...payload, data: { ...payload.data, conversionId } });
      const sent = performance.now();
      await plainPost(receiver.url('/baseline'), sample.headers, body);
      const arrival = receiver.arrivals.find((a) => a.conversionId === conversionId);
      if (i >= 0) baseline.push((arrival?.atPrecise ?? NaN) - sent);
    }
    return { service, baseline };
  } finally {
    await receiver.close();
    await stack.stop();
  }
}

/** Publishes `events` to the stack's exchange at once; the Date.now() of each publish, by conversion. */
async function publishAll(
  prefix: string,
  events: ConversionFinished[],
): Promise<Map<string, number>> {
  const published = new Map<string, number>();
  const connection = await amqp.connect(infra.amqpUrl);
  try {
    const channel = await connection.createConfirmChannel();
    const { exchange } = topologyNames(prefix);
    for (const event of events) {
      published.set(event.conversionId, Date.now());
      channel.publish(exchange, 'conversion.finished', Buffer.from(JSON.stringify(event)), {
        persistent: true,
      });
    }
    await channel.waitForConfirms();
  } finally {
    await connection.close();
  }
  return published;
}

/** A final state as the conversion service announces it, of a conversion that never ran. */
function madeUpEvent(owner: TestUser): ConversionFinished {
  return {
    type: 'conversion.finished',
    version: 1,
    conversionId: new ObjectId().toHexString(),
    videoId: new ObjectId().toHexString(),
    ownerId: owner.id,
    status: 'SUCCEEDED',
    filename: 'made-up.mp4',
    errorCode: null,
    audioId: new ObjectId().toHexString(),
    finishedAt: new Date().toISOString(),
  };
}

/** (2) on a fresh stack, with the first endpoint of each user dead as `dead` says. */
async function fanOut(dead: 'never answers' | 'refused') {
  const prefix = `bench${Date.now().toString(36)}_`;
  const stack = await spawnStack(infra, prefix, stackEnv);
  const receiver = await startReceiver();
  const refusingPort = await freePort();
  const sampler: { timer?: NodeJS.Timeout } = {};
  try {
    const users: TestUser[] = [];
    for (let u = 0; u < USERS; u++) {
      const user = await signUpUser(stack.graphqlUrl);
      users.push(user);
      for (let e = 0; e < ENDPOINTS_PER_USER; e++) {
        const url =
          e > 0
            ? receiver.url(`/live/${u}/${e}`)
            : dead === 'refused'
              ? `http://127.0.0.1:${refusingPort}/dead/${u}`
              : receiver.url(`/dead/${u}`);
        await addEndpoint(stack, user, url);
      }
    }
    const launcher = stack.launcher.pid ?? 0;
    const rssBefore = rssOf(launcher, 'notification/main.js');
    let rssPeak = rssBefore;
    sampler.timer = setInterval(() => {
      rssPeak = Math.max(rssPeak, rssOf(launcher, 'notification/main.js'));
    }, 100);

    const events = Array.from({ length: EVENTS }, (_, i) => madeUpEvent(users[i % USERS]!));
    const started = Date.now();
    const published = await publishAll(prefix, events);
    const live = EVENTS * (ENDPOINTS_PER_USER - 1);
    const complete = await until(() => receiver.answered() >= live, WINDOW_MS);
    clearInterval(sampler.timer);

    const arrivals = receiver.arrivals;
    // Until the last live webhook arrived, or, when not all did, until the window closed.
    const end = complete ? Math.max(...arrivals.map((a) => a.at)) : Date.now();
    const latencies = arrivals.map((a) => a.at - (published.get(a.conversionId) ?? NaN));
    return {
      dead,
      complete,
      live,
      arrived: arrivals.length,
      duplicates: arrivals.length - new Set(arrivals.map((a) => a.headers['webhook-id'])).size,
      perSecond: arrivals.length / ((end - started) / 1000),
      seconds: (end - started) / 1000,
      p50: percentile(latencies, 0.5),
      p95: percentile(latencies, 0.95),
      max: Math.max(...latencies),
      heldAttempts: receiver.held(),
      rssBefore,
      rssPeak,
    };
  } finally {
    clearInterval(sampler.timer);
    await receiver.close();
    await stack.stop();
  }
}

try {
  const began = performance.now();
  const latency = await finalStateToWebhook();
  const latencySeconds = (performance.now() - began) / 1000;
  const rounds = [await fanOut('never answers'), await fanOut('refused')];
  const ms = (value: number) => value.toFixed(1);
  const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(0);
  const serviceP95 = percentile(latency.service, 0.95);
  const sorted = [...latency.service].sort((a, b) => a - b);
  console.log(
    [
      `notification benchmark; machine: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}; local store FerretDB on PostgreSQL; WEBHOOK_TIMEOUT_SECONDS=${TIMEOUT_SECONDS}`,
      '',
      `(1) ${CONVERSIONS} real conversions of a 1 s 720p clip, one after another, one user, one endpoint on a loopback receiver (${latencySeconds.toFixed(0)} s with the stack's start and stop)`,
      '',
      '| final state → webhook received | p50 ms | p95 ms |',
      '|---|---|---|',
      `| REELFLUX: conversion finishedAt → webhook at the receiver | ${ms(percentile(latency.service, 0.5))} | **${ms(serviceP95)}** |`,
      `| baseline: plain HTTP POST of the same body from this process, fresh connection | ${ms(percentile(latency.baseline, 0.5))} | ${ms(percentile(latency.baseline, 0.95))} |`,
      `| ratio | ${(percentile(latency.service, 0.5) / percentile(latency.baseline, 0.5)).toFixed(0)} | ${(serviceP95 / percentile(latency.baseline, 0.95)).toFixed(0)} |`,
      '',
      `goal p95 ≤ ${GOAL_P95_MS} ms: ${serviceP95 <= GOAL_P95_MS ? 'met' : `not met, by ${ms(serviceP95 - GOAL_P95_MS)} ms`}; each, ms, sorted: ${sorted.map((v) => v.toFixed(0)).join(', ')}`,
      '',
      `(2) ${EVENTS} synthetic conversion.finished events (made up and published straight to the exchange: no conversion ran; the service under test is notification, not ffmpeg), ${USERS} users × ${ENDPOINTS_PER_USER} endpoints, the first of each user's dead: ${EVENTS * ENDPOINTS_PER_USER} deliveries, ${EVENTS * (ENDPOINTS_PER_USER - 1)} of them to live endpoints; each round on a fresh stack`,
      '',
      '| dead endpoints | live webhooks arrived | seconds | deliveries/s to live endpoints | publish → arrival p50 / p95 / max ms (of those arrived) | duplicates | attempts the dead took | notification RSS before → peak MB |',
      '|---|---|---|---|---|---|---|---|',
      ...rounds.map(
        (r) =>
          `| ${r.dead} | ${r.arrived}/${r.live}${r.complete ? '' : ` (window closed: incomplete)`} | ${r.seconds.toFixed(1)} | **${r.perSecond.toFixed(1)}** | ${r.p50.toFixed(0)} / **${r.p95.toFixed(0)}** / ${r.max.toFixed(0)} | ${r.duplicates} | ${r.dead === 'refused' ? 'n/a (refused)' : r.heldAttempts} | ${mb(r.rssBefore)} → ${mb(r.rssPeak)} |`,
      ),
      '',
      `whole run: ${((performance.now() - runStarted) / 1000).toFixed(0)} s`,
    ].join('\n'),
  );
  // A round whose live webhooks did not all arrive did not measure what it set out to.
  if (rounds.some((r) => !r.complete)) process.exitCode = 1;
} finally {
  await stopInfra();
}
