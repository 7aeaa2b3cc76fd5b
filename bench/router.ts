import { cpus, totalmem } from 'node:os';
import {
  bodyDigest,
  createInternalHop,
  HOP_HEADER,
  HOP_MAX_AGE_SECONDS,
} from '../lib/server/createInternalHop.js';
import { readSecret } from '../lib/platform/readSecret.js';
import { ensureInfrastructure } from '../scripts/ensureInfrastructure.js';
import { spawnStack } from '../scripts/spawnStack.js';
import { signUpBenchUser } from './benchClient.js';
import { measureLatency, type LatencyFigures } from './measureLatency.js';

/**
 * `npm run bench:router`: the same authenticated `{ me { id email } }` sent straight to the
 * auth subgraph and through the router, in one run, in alternating rounds so both paths see
 * the same machine state. Two loads: 10 concurrent connections (throughput; on 2 cores this
 * saturates the CPU, so latency there includes queueing) and 1 connection (the router's own
 * cost per request). Prints medians over the rounds and what the router adds.
 */
const ROUND_SECONDS = Number(process.env.BENCH_ROUND_SECONDS ?? 8);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
// Each round's requests carry one signature, good for HOP_MAX_AGE_SECONDS.
if (ROUND_SECONDS >= HOP_MAX_AGE_SECONDS)
  throw new Error(`BENCH_ROUND_SECONDS must be under ${HOP_MAX_AGE_SECONDS}`);

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;

const { stop: stopInfra, ...infra } = await ensureInfrastructure();
const stack = await spawnStack(infra, `bench${Date.now().toString(36)}_`, { LOG_LEVEL: 'warn' });
try {
  const token = await signUpBenchUser(stack.graphqlUrl);
  const hop = createInternalHop(readSecret(stack.env, 'INTERNAL_HOP_SECRET'));
  const body = JSON.stringify({ query: '{ me { id email } }' });
  /**
   * The request, signed as the router signs it: auth answers the router only, and a signature
   * holds for that request for HOP_MAX_AGE_SECONDS, so each round signs afresh. The router
   * ignores the header.
   */
  const request = () => ({
    body,
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${token}`,
      [HOP_HEADER]: hop.sign({
        method: 'POST',
        target: '/graphql',
        headers: { authorization: `Bearer ${token}` },
        body: bodyDigest(body),
      }),
    },
  });
  const paths = {
    direct: `${stack.subgraphUrls.auth}/graphql`,
    router: stack.graphqlUrl,
  };

  const lines: string[] = [];
  for (const connections of [10, 1]) {
    const runs: Record<keyof typeof paths, LatencyFigures[]> = { direct: [], router: [] };
    // Warm both paths: JIT, connection pools, the router's JWKS and query-plan caches.
    for (const url of Object.values(paths))
      await measureLatency({ ...request(), url, connections, seconds: 2 });
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, url] of Object.entries(paths) as [keyof typeof paths, string][]) {
        runs[name].push(
          await measureLatency({ ...request(), url, connections, seconds: ROUND_SECONDS }),
        );
      }
    }
    const summary = (name: keyof typeof paths) => ({
      rps: median(runs[name].map((r) => r.rps)),
      p50: median(runs[name].map((r) => r.p50)),
      p99: median(runs[name].map((r) => r.p99)),
    });
    const a = summary('direct');
    const b = summary('router');
    const row = (label: string, f: typeof a) =>
      `| ${connections} | ${label} | ${f.rps.toFixed(0)} | ${f.p50.toFixed(2)} | ${f.p99.toFixed(2)} |`;
    lines.push(row('auth subgraph directly', a), row('through the router', b));
    lines.push(
      `| ${connections} | **router adds** | ×${(b.rps / a.rps).toFixed(2)} | +${(b.p50 - a.p50).toFixed(2)} | +${(b.p99 - a.p99).toFixed(2)} |`,
    );
  }
  console.log(
    [
      `router benchmark: { me { id email } }, ${ROUNDS} alternating rounds of ${ROUND_SECONDS} s per path, medians`,
      `machine: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`,
      '',
      '| connections | path | requests/s | p50 ms | p99 ms |',
      '|---|---|---|---|---|',
      ...lines,
    ].join('\n'),
  );
} finally {
  await stack.stop();
  await stopInfra();
}
