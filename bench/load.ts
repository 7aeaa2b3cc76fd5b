import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import type { Client } from 'graphql-ws';
import WebSocket from 'ws';
import { ensureInfrastructure } from '../scripts/ensureInfrastructure.js';
import { spawnStack, type RunningStack } from '../scripts/spawnStack.js';
import { createSubscriptionSocket } from '../sdk/transport/createSubscriptionSocket.js';
import { childPids } from '../tests/helpers/processes.js';
import { benchVideo, uploadBenchFile, signUpBenchUser } from './benchClient.js';
import { percentile } from './measureLatency.js';

/**
 * `npm run bench:load`: U users each upload 5 one-minute 320×180 videos at once while 200 live
 * subscriptions (4 per upload, one WebSocket each) watch them, first with 10 users, then with
 * 20 users and 400 subscriptions (BENCH_LOAD_USERS=10,20). Each round gets a fresh stack and
 * databases. Reports throughput against plain ffmpeg two at a time on the same file (measured
 * in the same run), upload and end-to-end latency, peak RSS per process, and errors.
 */
const PER_USER = 5;
/** Users per round; each round runs on a stack of its own, so no round inherits another's store. */
const ROUNDS = (process.env.BENCH_LOAD_USERS ?? '10,20').split(',').map(Number);
const WATCHERS_PER_UPLOAD = 4;
const SOURCE_SECONDS = 60;

const { stop: stopInfra, ...infra } = await ensureInfrastructure();
const source = benchVideo(infra.ffmpegPath, {
  seconds: SOURCE_SECONDS,
  // Small video on purpose, so that ffmpeg, not the store, sets the pace.
  size: '320x180',
  videoKbps: 200,
  audio: 'sine=frequency=330:sample_rate=48000',
});
const work = mkdtempSync(join(tmpdir(), 'reelflux-load-'));
const plainFfmpeg = (output: string) =>
  new Promise<void>((resolve, reject) => {
    spawn(infra.ffmpegPath, ['-v', 'error', '-y', '-i', source, '-vn', '-b:a', '192k', output]).on(
      'exit',
      (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg exited ${code}`))),
    );
  });

/** Samples every process's RSS under the launcher; keeps each one's peak. */
function sampleRss(stack: RunningStack) {
  const peaks = new Map<string, number>();
  const names = ['router', 'auth', 'media', 'conversion', 'worker'];
  const timer = setInterval(() => {
    for (const name of names) {
      for (const pid of childPids(stack.launcher.pid ?? 0, `${name}/main.js`)) {
        try {
          const kb = Number(
            /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1],
          );
          peaks.set(name, Math.max(peaks.get(name) ?? 0, kb / 1024));
        } catch {
          // exited between listing and reading
        }
      }
    }
  }, 250);
  return {
    stop() {
      clearInterval(timer);
      return peaks;
    },
  };
}

interface Round {
  users: number;
  uploads: number;
  subscriptions: number;
  wallSeconds: number;
  uploadP50: number;
  uploadP95: number;
  endToEndP50: number;
  endToEndP95: number;
  errors: string[];
  peaks: Map<string, number>;
  completedWatchers: number;
}

async function round(stack: RunningStack, users: number): Promise<Round> {
  const tokens = await Promise.all(
    Array.from({ length: users }, () => signUpBenchUser(stack.graphqlUrl)),
  );
  const rss = sampleRss(stack);
  const errors: string[] = [];
  const uploadSeconds: number[] = [];
  const endToEnd: number[] = [];
  let completedWatchers = 0;
  const clients: Client[] = [];
  const started = performance.now();

  const one = async (token: string) => {
    const begun = performance.now();
    let id: string;
    try {
      id = await uploadBenchFile(stack.graphqlUrl, token, source);
    } catch (error) {
      errors.push(`upload: ${(error as Error).message}`);
      return;
    }
    uploadSeconds.push((performance.now() - begun) / 1000);
    // Watchers join once the id is known, as a client that just uploaded would; end to end is
    // upload start → the first watcher's SUCCEEDED.
    let seen = false;
    const finals = await Promise.all(
      Array.from({ length: WATCHERS_PER_UPLOAD }, () => {
        const client = createSubscriptionSocket({
          url: stack.graphqlUrl,
          token,
          webSocketImpl: WebSocket,
          retryAttempts: 3,
        });
        clients.push(client);
        return new Promise<string>((resolve) => {
          let last = 'none';
          client.subscribe<{ conversionUpdated: { status: string } }>(
            {
              query: 'subscription ($v: ID!) { conversionUpdated(videoId: $v) { status } }',
              variables: { v: id },
            },
            {
              next: (value) => {
                last =
                  value.data?.conversionUpdated.status ?? `error ${JSON.stringify(value.errors)}`;
                if (last === 'SUCCEEDED' && !seen) {
                  seen = true;
                  endToEnd.push((performance.now() - begun) / 1000);
                }
              },
              error: (error) => resolve(`socket error ${String(error)}`),
              complete: () => resolve(last),
            },
          );
        });
      }),
    );
    for (const final of finals) {
      if (final === 'SUCCEEDED') completedWatchers++;
      else errors.push(`watch ended ${final}`);
    }
  };
  await Promise.all(tokens.flatMap((token) => Array.from({ length: PER_USER }, () => one(token))));
  const wallSeconds = (performance.now() - started) / 1000;
  await Promise.all(clients.map(async (client) => client.dispose()));
  return {
    users,
    uploads: users * PER_USER,
    subscriptions: users * PER_USER * WATCHERS_PER_UPLOAD,
    wallSeconds,
    uploadP50: percentile(uploadSeconds, 0.5),
    uploadP95: percentile(uploadSeconds, 0.95),
    endToEndP50: percentile(endToEnd, 0.5),
    endToEndP95: percentile(endToEnd, 0.95),
    errors,
    peaks: rss.stop(),
    completedWatchers,
  };
}

try {
  // Baseline in the same run: plain ffmpeg on the same file, two at a time (two cores).
  const begun = performance.now();
  await Promise.all([0, 1, 2, 3].map((i) => plainFfmpeg(join(work, `plain${i}.mp3`))));
  const plainPerFile = (performance.now() - begun) / 1000 / 4;

  const mb = (readFileSync(source).length / 2 ** 20).toFixed(1);
  console.log(
    [
      `load benchmark; machine: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}; local store FerretDB on PostgreSQL, one process each, WORKER_CONCURRENCY ${cpus().length}`,
      `source: ${SOURCE_SECONDS} s 320×180 H.264/AAC (${mb} MB); plain ffmpeg → MP3, 4 files on all cores: ${plainPerFile.toFixed(2)} s per file`,
      '',
      '| users × uploads | subscriptions | wall s | videos/min | vs plain ffmpeg | upload p50 / p95 s | end-to-end p50 / p95 s | watchers done | errors | peak RSS MB (router, auth, media, conversion, worker) |',
      '|---|---|---|---|---|---|---|---|---|---|',
    ].join('\n'),
  );
  // Each round's line as soon as it ends: a long second round does not hide the first.
  const rounds: Round[] = [];
  for (const [index, users] of ROUNDS.entries()) {
    const stack = await spawnStack(infra, `load${Date.now().toString(36)}r${index}_`, {
      LOG_LEVEL: 'warn',
      // Each user watches each of its uploads from 4 sockets: 20, twice the default.
      MAX_WEBSOCKETS_PER_USER: String(PER_USER * WATCHERS_PER_UPLOAD),
    });
    const r = await round(stack, users).finally(() => stack.stop());
    rounds.push(r);
    const rss = ['router', 'auth', 'media', 'conversion', 'worker']
      .map((name) => (r.peaks.get(name) ?? 0).toFixed(0))
      .join(', ');
    const plainSeconds = plainPerFile * r.uploads;
    console.log(
      `| ${r.users} × ${PER_USER} | ${r.subscriptions} | ${r.wallSeconds.toFixed(1)} | ${((r.uploads / r.wallSeconds) * 60).toFixed(1)} | ${(plainSeconds / r.wallSeconds).toFixed(2)} | ${r.uploadP50.toFixed(1)} / ${r.uploadP95.toFixed(1)} | ${r.endToEndP50.toFixed(1)} / ${r.endToEndP95.toFixed(1)} | ${r.completedWatchers}/${r.subscriptions} | ${r.errors.length} | ${rss} |`,
    );
    for (const error of r.errors.slice(0, 10)) console.log(`error (${r.users} users): ${error}`);
  }
  process.exitCode = rounds.some((r) => r.errors.length > 0) ? 1 : 0;
} finally {
  rmSync(work, { recursive: true, force: true });
  await stopInfra();
}
