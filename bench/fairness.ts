import { cpus, totalmem } from 'node:os';
import { ensureInfrastructure } from '../scripts/ensureInfrastructure.js';
import { spawnStack, type RunningStack } from '../scripts/spawnStack.js';
import { createReelfluxClient, ReelfluxError } from '../sdk/index.js';
import { benchAudio, benchVideo, uploadBenchFile, signUpBenchUser } from './benchClient.js';

/**
 * `npm run bench:fairness`: does one user's backlog hold up another user's job? User B's
 * 10-second clip, upload → SUCCEEDED, (a) on an idle stack, then (b) while user A has
 * `BACKLOG` ten-minute files waiting, with fair dispatch (the default: one job out per user),
 * and (c) the same with the per-user cap raised past the backlog, which is first-in-first-out
 * as the queue was before. The goal: b/a ≤ 1.5. The idle figure is the median of three clips;
 * the loaded one is a single clip, uploaded once all of A's videos are in.
 */
const BACKLOG = Number(process.env.BENCH_FAIRNESS_BACKLOG ?? 20);
const { stop: stopInfra, ...infra } = await ensureInfrastructure();
const audio = 'sine=frequency=440:sample_rate=48000';
const clip = benchVideo(infra.ffmpegPath, { seconds: 10, size: '320x180', videoKbps: 200, audio });
// A's files are long to convert but small to store (audio only): on the embedded store every
// GridFS read scans the whole chunks collection, and 20 large files would measure that instead
// of the queue.
const long = benchAudio(infra.ffmpegPath, 600);

/** The conversion's state, or undefined while it is not made yet (its event not consumed). */
const state = (stack: RunningStack, token: string, id: string) =>
  createReelfluxClient({ url: stack.graphqlUrl, token })
    .conversion(id)
    .catch((error: unknown) => {
      if (error instanceof ReelfluxError && error.code === 'NOT_FOUND') return undefined;
      throw error;
    });
const status = async (stack: RunningStack, token: string, id: string) =>
  (await state(stack, token, id))?.status;
const until = async (stack: RunningStack, token: string, id: string, wanted: string) => {
  for (;;) {
    const now = await status(stack, token, id);
    if (now === wanted) return;
    if (now === 'FAILED' || now === 'CANCELLED') throw new Error(`conversion ${id} ${now}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
};
/**
 * Seconds from the start of B's upload to SUCCEEDED, and from QUEUED to RUNNING (the wait for
 * a worker): the medians of `count` clips in turn.
 */
const clipSeconds = async (stack: RunningStack, token: string, count: number) => {
  const times: number[] = [];
  const waits: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    const id = await uploadBenchFile(stack.graphqlUrl, token, clip);
    await until(stack, token, id, 'SUCCEEDED');
    times.push((performance.now() - started) / 1000);
    const done = await state(stack, token, id);
    waits.push((Date.parse(done?.startedAt ?? '') - Date.parse(done?.queuedAt ?? '')) / 1000);
  }
  const median = (values: number[]) => values.sort((x, y) => x - y)[Math.floor(count / 2)] ?? 0;
  return { total: median(times), wait: median(waits) };
};

const round = async (name: string, env: Record<string, string>) => {
  const stack = await spawnStack(infra, `fair${Date.now().toString(36)}_`, {
    WORKER_CONCURRENCY: '2',
    ...env,
  });
  try {
    const a = await signUpBenchUser(stack.graphqlUrl);
    const b = await signUpBenchUser(stack.graphqlUrl);
    const idle = await clipSeconds(stack, b, 3);
    const backlog: string[] = [];
    for (let i = 0; i < BACKLOG; i++)
      backlog.push(await uploadBenchFile(stack.graphqlUrl, a, long));
    // One clip: behind a first-in-first-out queue, a second would find the backlog gone.
    const loaded = await clipSeconds(stack, b, 1);
    let waiting = 0;
    for (const id of backlog) if ((await status(stack, a, id)) === 'QUEUED') waiting++;
    return { name, idle, loaded, waiting };
  } finally {
    await stack.stop();
  }
};

try {
  const fair = await round('fair dispatch (default: 1 job out per user)', {});
  const fifo = await round('cap raised to the backlog (first in, first out)', {
    MAX_RUNNING_CONVERSIONS_PER_USER: String(BACKLOG + 1),
  });
  console.log(
    [
      `fairness benchmark; machine: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}; 2 worker slots`,
      '',
      `| user B's 10 s clip | (a) idle: upload → SUCCEEDED s (median of 3) | (b) behind A's ${BACKLOG} × 10 min of audio s | **b/a** | B's wait for a worker, idle → behind A s | A's files still QUEUED after |`,
      '|---|---|---|---|---|---|',
      ...[fair, fifo].map(
        (r) =>
          `| ${r.name} | ${r.idle.total.toFixed(2)} | ${r.loaded.total.toFixed(2)} | **${(r.loaded.total / r.idle.total).toFixed(2)}** | ${r.idle.wait.toFixed(2)} → ${r.loaded.wait.toFixed(2)} | ${r.waiting} |`,
      ),
    ].join('\n'),
  );
} finally {
  await stopInfra();
}
