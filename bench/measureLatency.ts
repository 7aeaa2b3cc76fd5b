import { Agent, request } from 'node:http';

export interface LatencyFigures {
  requests: number;
  rps: number;
  p50: number;
  p99: number;
}

/**
 * `connections` keep-alive loops POSTing `body` to `url` back to back for `seconds`, timing
 * each response with the high-resolution clock (milliseconds, fractional). Any non-200 or
 * GraphQL error aborts the run: a benchmark of failures measures nothing.
 */
export async function measureLatency(options: {
  url: string;
  body: string;
  headers: Record<string, string>;
  connections: number;
  seconds: number;
}): Promise<LatencyFigures> {
  const agent = new Agent({ keepAlive: true, maxSockets: options.connections });
  const target = new URL(options.url);
  const payload = Buffer.from(options.body);
  const latencies: number[] = [];
  const deadline = performance.now() + options.seconds * 1000;

  const once = () =>
    new Promise<void>((resolve, reject) => {
      const started = performance.now();
      const req = request(
        target,
        {
          method: 'POST',
          agent,
          headers: { ...options.headers, 'content-length': payload.length },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => {
            latencies.push(performance.now() - started);
            if (res.statusCode !== 200 || text.includes('"errors"')) {
              reject(new Error(`${options.url} answered ${res.statusCode}: ${text.slice(0, 200)}`));
            } else resolve();
          });
        },
      );
      req.on('error', reject);
      req.end(payload);
    });

  const loop = async () => {
    while (performance.now() < deadline) await once();
  };
  const began = performance.now();
  await Promise.all(Array.from({ length: options.connections }, loop));
  const elapsed = (performance.now() - began) / 1000;
  agent.destroy();

  return {
    requests: latencies.length,
    rps: latencies.length / elapsed,
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
  };
}

/** The `q` quantile (0–1) of `values` by the nearest-rank method; NaN when there are none. */
export function percentile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}
