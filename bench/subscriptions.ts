import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import amqp from 'amqplib';
import type { Client } from 'graphql-ws';
import WebSocket from 'ws';
import { parseConversionUpdated } from '../lib/contracts/messages.js';
import { fromRoot } from '../lib/platform/projectRoot.js';
import { topologyNames } from '../lib/broker/topology.js';
import { ensureInfrastructure } from '../scripts/ensureInfrastructure.js';
import { freePort, spawnStack, type RunningStack } from '../scripts/spawnStack.js';
import { createReelfluxClient } from '../sdk/index.js';
import { createSubscriptionSocket } from '../sdk/transport/createSubscriptionSocket.js';
import { makeLongAudio } from '../tests/helpers/fixtures.js';
import { uploadBenchFile, signUpBenchUser } from './benchClient.js';
import { percentile } from './measureLatency.js';

/**
 * `npm run bench:subscriptions`, on a stack without a worker so the benchmark decides when
 * conversions run, and with a router of its own so its CPU and memory can be read.
 * (a) Latency from a conversion.updated event (seen by the benchmark's own queue on the same
 *     exchange, i.e. when the worker published it) to the subscriber's `next` on the socket,
 *     over 200+ events; baseline: the same fields queried over HTTP through the same router
 *     during the same rounds (each event costs at least that query).
 * (b) 1,000 subscriptions (one socket each) on that router: RSS and CPU idle, then while 20
 *     conversions run and every subscriber receives its updates to the end.
 */
const LATENCY_EVENTS = Number(process.env.BENCH_EVENTS ?? 200);
const SUBSCRIPTIONS = Number(process.env.BENCH_SUBSCRIPTIONS ?? 1000);
const VIDEOS = 20;

const SUBSCRIPTION = `subscription ($videoId: ID, $id: ID) {
  conversionUpdated(videoId: $videoId, id: $id) { id status progress video { filename } audio { downloadUrl } }
}`;

interface Next {
  at: number;
  conversionId: string;
  status: string;
  progress: number | null;
}

const infra = await ensureInfrastructure(process.env, () => undefined);
const prefix = `bench_subs_${Date.now()}_`;
const dir = mkdtempSync(join(tmpdir(), 'reelflux-bench-'));
const stack = await spawnStack(infra, prefix, {
  REELFLUX_PROCESSES: 'auth,media,conversion,notification,router',
  // (a) converts one video again and again, far past what one user may.
  MAX_CONVERSIONS_PER_VIDEO: '1000',
});
const children: ChildProcess[] = [];
try {
  const router = await startRouter(stack);
  const routerGraphql = `${router.url}/graphql`;
  const token = await signUpBenchUser(routerGraphql);

  // ---- (a) latency ---------------------------------------------------------------------
  // One long upload converted again and again (two at a time, the worker's two slots): the
  // database holds one file, so FerretDB's whole-collection scans stay small.
  const seen = await watchEvents(infra.amqpUrl, prefix);
  const nexts: Next[] = [];
  const worker = startWorker(stack);
  const videoId = await uploadBenchFile(routerGraphql, token, makeAudio(dir, 1200));
  const latencyClient = socket(routerGraphql, token);
  // The baseline runs beside the rounds, so both see the same load (two ffmpeg jobs, the
  // database writing MP3s) on the same two cores.
  const baseline: number[] = [];
  let measuring = true;
  const baselineLoop = (async () => {
    while (measuring) {
      baseline.push(await queryLatency(routerGraphql, token, videoId));
      await sleep(100);
    }
  })();
  // Awaited below; this keeps a query cut off by the cleanup of an earlier failure from hiding
  // that failure as an unhandled rejection.
  baselineLoop.catch(() => undefined);
  for (let round = 1; matchLatencies(seen.events, nexts).length < LATENCY_EVENTS; round += 1) {
    if (round > 30) throw new Error('too few events answered; is the worker running?');
    const ids = await Promise.all([1, 2].map(() => convertAgain(routerGraphql, token, videoId)));
    await Promise.all(
      ids.map((id) => subscribe(latencyClient, { id }, (next) => nexts.push(next))),
    );
    progress(`(a) round ${round}: ${matchLatencies(seen.events, nexts).length} events answered`);
  }
  measuring = false;
  await baselineLoop;
  const latencies = matchLatencies(seen.events, nexts);
  const publishedForLatency = seen.events.length;
  await latencyClient.dispose();
  await stopProcess(worker);

  // ---- (b) 1,000 subscriptions -------------------------------------------------------------
  const shortAudio = makeAudio(dir, 120);
  const users = await Promise.all(
    Array.from({ length: VIDEOS }, () => signUpBenchUser(routerGraphql)),
  );
  const videos = await Promise.all(
    users.map((user) => uploadBenchFile(routerGraphql, user, shortAudio, { bitrateKbps: 32 })),
  );
  const idleBefore = sample(router.pid);
  await sleep(5_000);
  const noSubscribers = usage(idleBefore, sample(router.pid));

  const sockets: Client[] = [];
  const finished: Promise<void>[] = [];
  let received = 0;
  const openStart = Date.now();
  for (let i = 0; i < SUBSCRIPTIONS; i += 1) {
    const user = i % VIDEOS;
    const client = socket(routerGraphql, users[user] ?? '');
    sockets.push(client);
    finished.push(subscribe(client, { videoId: videos[user] ?? '' }, () => (received += 1)));
  }
  // Everyone has the current (QUEUED) state before the idle window starts.
  while (received < SUBSCRIPTIONS) await sleep(50);
  progress(`(b) ${SUBSCRIPTIONS} subscriptions open; measuring idle`);
  const openSeconds = (Date.now() - openStart) / 1000;
  const idleStart = sample(router.pid);
  await sleep(10_000);
  const idle = usage(idleStart, sample(router.pid));

  const flowingStart = sample(router.pid);
  const peak = { rss: flowingStart.rss };
  const sampler = setInterval(() => (peak.rss = Math.max(peak.rss, sample(router.pid).rss)), 200);
  const eventsBefore = seen.events.length;
  const receivedBefore = received;
  const busyWorker = startWorker(stack);
  progress('(b) worker started; events flowing');
  const outcomes = await Promise.allSettled(finished);
  clearInterval(sampler);
  const flowing = usage(flowingStart, sample(router.pid));
  const completed = outcomes.filter((o) => o.status === 'fulfilled').length;
  await stopProcess(busyWorker);
  await Promise.all(sockets.map((client) => Promise.resolve(client.dispose())));
  await seen.close();

  const ms = (value: number) => `${value.toFixed(1)} ms`;
  const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MB`;
  const p50 = percentile(latencies, 0.5);
  const p95 = percentile(latencies, 0.95);
  const base50 = percentile(baseline, 0.5);
  const lines = [
    `machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`,
    '(a) conversion.updated → subscriber `next` (router re-queries through the gateway)',
    `    events answered: ${latencies.length} of ${publishedForLatency} published (the rest were folded into a later query, or showed no change)`,
    `    latency p50 ${ms(p50)}, p95 ${ms(p95)}, max ${ms(Math.max(...latencies))}  (goal p95 ≤ 50 ms: ${p95 <= 50 ? 'met' : 'NOT MET'})`,
    `    baseline, the same fields queried over HTTP through the router during the same rounds (${baseline.length} queries): p50 ${ms(base50)}, p95 ${ms(percentile(baseline, 0.95))}; ratio p50 ${(p50 / base50).toFixed(2)}, p95 ${(p95 / percentile(baseline, 0.95)).toFixed(2)}`,
    `(b) ${SUBSCRIPTIONS} subscriptions, one socket each, ${VIDEOS} users × ${SUBSCRIPTIONS / VIDEOS} on each user's video`,
    `    opened (and first state received) in ${openSeconds.toFixed(1)} s`,
    `    router, no subscribers: RSS ${mb(noSubscribers.rss)}, CPU ${noSubscribers.cpu.toFixed(1)} %`,
    `    router, ${SUBSCRIPTIONS} idle:   RSS ${mb(idle.rss)} (×${(idle.rss / noSubscribers.rss).toFixed(2)}), CPU ${idle.cpu.toFixed(1)} %`,
    `    router, events flowing: peak RSS ${mb(peak.rss)}, CPU ${flowing.cpu.toFixed(1)} % of one core over ${flowing.seconds.toFixed(1)} s; ${seen.events.length - eventsBefore} events, ${received - receivedBefore} messages sent (${((flowing.cpu * flowing.seconds * 10) / Math.max(1, received - receivedBefore)).toFixed(2)} ms of router CPU each), ${completed}/${SUBSCRIPTIONS} completed`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
} finally {
  for (const child of children) child.kill('SIGTERM');
  await stack.stop();
}

// ---- helpers --------------------------------------------------------------------------------

async function startRouter(running: RunningStack): Promise<{ url: string; pid: number }> {
  const port = await freePort();
  const internalPort = await freePort();
  const child = spawn(process.execPath, [fromRoot('dist', 'router', 'main.js')], {
    env: {
      ...running.env,
      ROUTER_PORT: String(port),
      ROUTER_INTERNAL_PORT: String(internalPort),
      AUTH_URL: running.subgraphUrls.auth,
      MEDIA_URL: running.subgraphUrls.media,
      CONVERSION_URL: running.subgraphUrls.conversion,
      NOTIFICATION_URL: running.subgraphUrls.notification,
      // The benchmark's one user stands for a thousand subscribers: the per-user limits are
      // lifted here (spawnStack lifts those per address), so what is measured is the router.
      MAX_SUBSCRIPTIONS_PER_CONNECTION: '100',
      MAX_WEBSOCKETS_PER_USER: String(SUBSCRIPTIONS + 10),
      MAX_SUBSCRIPTIONS_PER_USER: String(SUBSCRIPTIONS + 10),
      SUBSCRIPTION_QUERIES_PER_USER_PER_SECOND: '100000',
    },
    stdio: 'inherit',
  });
  children.push(child);
  const url = `http://127.0.0.1:${port}`;
  for (let tries = 0; ; tries += 1) {
    const status = await fetch(`http://127.0.0.1:${internalPort}/readyz`).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200) break;
    if (tries > 150) throw new Error('benchmark router never became ready');
    await sleep(200);
  }
  return { url, pid: child.pid ?? 0 };
}

function startWorker(running: RunningStack): ChildProcess {
  const child = spawn(process.execPath, [fromRoot('dist', 'worker', 'main.js')], {
    env: { ...running.env, WORKER_CONCURRENCY: '2' },
    stdio: 'inherit',
  });
  children.push(child);
  return child;
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

/** The tests' long tone (cheap to make, slow enough to convert to report progress), on disk. */
function makeAudio(folder: string, seconds: number): string {
  const path = join(folder, `tone-${seconds}.m4a`);
  writeFileSync(path, makeLongAudio(infra.ffmpegPath, seconds));
  return path;
}

function socket(graphqlUrl: string, token: string): Client {
  return createSubscriptionSocket({
    url: graphqlUrl,
    token,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
  });
}

function subscribe(
  client: Client,
  variables: { videoId: string } | { id: string },
  onNext: (next: Next) => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    client.subscribe<{
      conversionUpdated: { id: string; status: string; progress: number | null };
    }>(
      { query: SUBSCRIPTION, variables },
      {
        next: (value) => {
          const update = value.data?.conversionUpdated;
          if (update)
            onNext({
              at: performance.now(),
              conversionId: update.id,
              status: update.status,
              progress: update.progress,
            });
        },
        error: reject,
        complete: resolve,
      },
    );
  });
}

/** Every conversion.updated, timestamped as it reaches a queue of the benchmark's own. */
async function watchEvents(amqpUrl: string, namePrefix: string) {
  const connection = await amqp.connect(amqpUrl);
  const channel = await connection.createChannel();
  const { queue } = await channel.assertQueue('', { exclusive: true, autoDelete: true });
  await channel.bindQueue(queue, topologyNames(namePrefix).exchange, 'conversion.updated');
  const events: Next[] = [];
  await channel.consume(
    queue,
    (message) => {
      if (!message) return;
      const event = parseConversionUpdated(JSON.parse(message.content.toString()));
      events.push({
        at: performance.now(),
        conversionId: event.conversionId,
        status: event.status,
        progress: event.progress,
      });
    },
    { noAck: true },
  );
  return { events, close: () => connection.close() };
}

/**
 * For each event, the first `next` after it that shows the same state: the moment the
 * subscriber learnt of that change. Events whose state no `next` shows were folded into a later
 * query (or their progress had not been saved yet) and are not counted.
 */
function matchLatencies(events: readonly Next[], nexts: readonly Next[]): number[] {
  const used = new Set<Next>();
  const latencies: number[] = [];
  for (const event of events) {
    const answer = nexts.find(
      (next) =>
        !used.has(next) &&
        next.at >= event.at &&
        next.conversionId === event.conversionId &&
        next.status === event.status &&
        next.progress === event.progress,
    );
    if (!answer) continue;
    used.add(answer);
    latencies.push(answer.at - event.at);
  }
  return latencies;
}

/** One `conversion(id)` query over HTTP through the router, with the subscription's fields. */
async function queryLatency(graphqlUrl: string, token: string, videoId: string): Promise<number> {
  const start = performance.now();
  const response = await fetch(graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({
      query:
        'query ($id: ID!) { video(id: $id) { latestConversion { id status progress video { filename } audio { downloadUrl } } } }',
      variables: { id: videoId },
    }),
  });
  await response.json();
  return performance.now() - start;
}

interface Sample {
  at: number;
  cpuTicks: number;
  rss: number;
}

function sample(pid: number): Sample {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return {
    at: performance.now(),
    // utime + stime, in clock ticks (100 per second on Linux).
    cpuTicks: Number(fields[11]) + Number(fields[12]),
    rss: Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024,
  };
}

function usage(from: Sample, to: Sample): { cpu: number; rss: number; seconds: number } {
  const seconds = (to.at - from.at) / 1000;
  return { cpu: ((to.cpuTicks - from.cpuTicks) / 100 / seconds) * 100, rss: to.rss, seconds };
}

async function convertAgain(graphqlUrl: string, token: string, videoId: string): Promise<string> {
  const reelflux = createReelfluxClient({ url: graphqlUrl, token });
  // A small MP3: the database writes each one, and only the events matter here.
  return (await reelflux.convertVideo(videoId, { bitrateKbps: 32 })).id;
}

function progress(line: string): void {
  process.stderr.write(`bench | ${line}\n`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
