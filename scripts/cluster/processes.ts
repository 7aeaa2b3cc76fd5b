// The cluster's host processes (etcd, the control plane, containerd, the kubelet, kube-proxy):
// started detached with a log and a pid file each, so `down` can stop exactly these.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LOGS, STATE } from './layout.js';

const PIDS = join(STATE, 'pids');

const pidFile = (name: string) => join(PIDS, `${name}.pid`);

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** The pid of a process this started, if it still runs. */
export function runningPid(name: string): number | undefined {
  if (!existsSync(pidFile(name))) return undefined;
  const pid = Number(readFileSync(pidFile(name), 'utf8'));
  return pid > 0 && alive(pid) ? pid : undefined;
}

/** Starts `command` in the background unless it already runs (so `up` can be run again). */
export function startProcess(name: string, command: string, args: readonly string[]): void {
  if (runningPid(name)) return;
  mkdirSync(PIDS, { recursive: true });
  mkdirSync(LOGS, { recursive: true });
  const log = openSync(join(LOGS, `${name}.log`), 'a');
  const child = spawn(command, args, { detached: true, stdio: ['ignore', log, log] });
  child.unref();
  writeFileSync(pidFile(name), String(child.pid));
}

/** SIGTERM, then SIGKILL after `graceMs`; only the pid this recorded. */
export async function stopProcess(name: string, graceMs = 10_000): Promise<void> {
  const pid = runningPid(name);
  if (pid) {
    process.kill(pid, 'SIGTERM');
    const deadline = Date.now() + graceMs;
    while (alive(pid) && Date.now() < deadline) await sleep(200);
    if (alive(pid)) process.kill(pid, 'SIGKILL');
  }
  rmSync(pidFile(name), { force: true });
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits for `ready` to hold, or throws naming the log to read. */
export async function waitFor(
  what: string,
  ready: () => boolean | Promise<boolean>,
  timeoutMs: number,
  log?: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ready())) {
    if (Date.now() > deadline) {
      const where = log ? `: see ${join(LOGS, `${log}.log`)}` : '';
      throw new Error(`${what} not ready within ${timeoutMs / 1_000} s${where}`);
    }
    await sleep(500);
  }
}
