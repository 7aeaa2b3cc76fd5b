// One piece of `ensureInfrastructure` (scripts/ensureInfrastructure.ts); see docs/operations.md.
import { spawnSync, type ChildProcess, type SpawnSyncOptions } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';

/** Something the stack needs is missing and cannot be provided: the message says what to do. */
export class MissingInfrastructureError extends Error {
  override name = 'MissingInfrastructureError';
}

/** Where progress lines go (`npm start` prints them, tests prefix them). */
export type Say = (line: string) => void;

export function findExecutable(name: string, extra: readonly string[]): string | undefined {
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  if (found.status === 0 && found.stdout.trim()) return found.stdout.trim();
  return extra.find((path) => existsSync(path));
}

/**
 * Runs a program to its end and returns its standard output; a non-zero exit throws with the
 * command and the end of its standard error (or of what it printed, when it printed no error).
 */
export function runTool(
  command: string,
  args: readonly string[],
  options: SpawnSyncOptions = {},
): string {
  const run = spawnSync(command, args, {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    ...options,
  });
  const text = (stream: unknown) => (typeof stream === 'string' ? stream.trim() : '');
  if (run.status !== 0) {
    const said = text(run.stderr) || text(run.stdout) || String(run.error ?? '');
    throw new Error(`${command} ${args.join(' ')} failed (${run.status}): ${said.slice(-3_000)}`);
  }
  return typeof run.stdout === 'string' ? run.stdout : '';
}

export function aptInstall(pkg: string, what: string, variable: string, say: Say): void {
  const canApt = process.getuid?.() === 0 && findExecutable('apt-get', []);
  if (!canApt) {
    throw new MissingInfrastructureError(
      `${what} is missing: install Debian's ${pkg} package (apt-get install ${pkg}) or set ${variable}.`,
    );
  }
  say(`${what}: installing Debian's ${pkg} package…`);
  const apt = (args: string[]) =>
    spawnSync('apt-get', args, {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    }).status;
  if (
    apt(['install', '-y', '-qq', pkg]) !== 0 &&
    (apt(['update', '-qq']) !== 0 || apt(['install', '-y', '-qq', pkg]) !== 0)
  ) {
    throw new MissingInfrastructureError(
      `apt-get could not install ${pkg}: install it by hand or set ${variable}.`,
    );
  }
}

export async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

/** A URI without its credentials, for messages. */
export function redact(uri: string): string {
  return uri.replace(/\/\/[^@/]*@/, '//***@');
}

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
export function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, timeout: 1_000 });
    const settle = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.once('connect', () => settle(true));
    socket.once('error', () => settle(false));
    socket.once('timeout', () => settle(false));
  });
}
