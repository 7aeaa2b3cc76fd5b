import { spawn, type ChildProcess, type ChildProcessByStdio } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { fromRoot } from '../lib/platform/projectRoot.js';
import { internalPort } from '../lib/platform/processPorts.js';
import { SUBGRAPHS } from '../lib/contracts/subgraphs.js';

export interface ProcessSpec {
  name: string;
  /** Compiled entry point under dist/. */
  entry: string;
  /** Polled until it answers 200 (on the internal port); the stack is ready when every process's is. */
  readyUrl: string;
}

/** The processes of the stack with their ports, from the same variables their configs read. */
export function stackProcesses(env: NodeJS.ProcessEnv): ProcessSpec[] {
  return [
    ...SUBGRAPHS.map(({ name }) => ({
      name,
      entry: fromRoot('dist', 'subgraphs', name, 'main.js'),
      readyUrl: `http://127.0.0.1:${internalPort(env, name)}/readyz`,
    })),
    {
      name: 'worker',
      entry: fromRoot('dist', 'worker', 'main.js'),
      readyUrl: `http://127.0.0.1:${internalPort(env, 'worker')}/readyz`,
    },
    {
      name: 'router',
      entry: fromRoot('dist', 'router', 'main.js'),
      readyUrl: `http://127.0.0.1:${internalPort(env, 'router')}/readyz`,
    },
  ];
}

export interface Stack {
  /** Resolves when every process answers its readiness URL. */
  ready(timeoutMs?: number): Promise<void>;
  /** SIGTERM to every process, SIGKILL after the grace period; no more restarts. */
  stop(graceMs?: number): Promise<void>;
}

const COLORS = [36, 35, 33, 32, 34, 31];

/**
 * Runs each process as a child with its output prefixed by its name, and restarts one that
 * dies (1 s, 2 s, 4 s … up to 30 s; the delay resets after a minute of good health), as a
 * Kubernetes Deployment would.
 */
export function launchStack(
  specs: readonly ProcessSpec[],
  env: NodeJS.ProcessEnv,
  out: NodeJS.WritableStream = process.stdout,
): Stack {
  const width = Math.max(...specs.map((spec) => spec.name.length));
  const color = 'isTTY' in out && out.isTTY === true;
  const children = new Map<string, ChildProcess>();
  let stopping = false;

  const prefix = (spec: ProcessSpec, index: number) => {
    const label = spec.name.padEnd(width);
    return color ? `\x1b[${COLORS[index % COLORS.length]}m${label} |\x1b[0m ` : `${label} | `;
  };

  const start = (spec: ProcessSpec, index: number, failures: number) => {
    const child = spawn(process.execPath, [spec.entry], {
      env,
      // The IPC channel is never used for messages: it closes when this launcher dies, however
      // it dies, and runMain stops the child then.
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    }) as ChildProcessByStdio<null, Readable, Readable>; // Node's types lose the pipes with 'ipc'
    children.set(spec.name, child);
    const startedAt = Date.now();
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on('line', (line) => {
        out.write(`${prefix(spec, index)}${line}\n`);
      });
    }
    child.once('exit', (code, signal) => {
      if (stopping) {
        out.write(`${prefix(spec, index)}stopped (${signal ?? `code ${code}`})\n`);
        return;
      }
      const healthy = Date.now() - startedAt > 60_000;
      const next = healthy ? 0 : failures + 1;
      const delay = Math.min(30_000, 1_000 * 2 ** Math.max(0, next - 1));
      out.write(
        `${prefix(spec, index)}exited (${signal ?? `code ${code}`}); restarting in ${delay / 1000} s\n`,
      );
      setTimeout(() => {
        if (!stopping) start(spec, index, next);
      }, delay).unref();
    });
  };
  specs.forEach((spec, index) => start(spec, index, 0));

  return {
    async ready(timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (const spec of specs) {
        for (;;) {
          try {
            const response = await fetch(spec.readyUrl, { signal: AbortSignal.timeout(2_000) });
            if (response.ok) break;
          } catch {
            // not listening yet
          }
          if (Date.now() > deadline) throw new Error(`${spec.name} not ready at ${spec.readyUrl}`);
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      }
    },
    async stop(graceMs = 15_000) {
      stopping = true;
      await Promise.all(
        [...children.values()].map(async (child) => {
          if (child.exitCode !== null || child.signalCode !== null) return;
          const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
          await exited;
          clearTimeout(timer);
        }),
      );
    },
  };
}
