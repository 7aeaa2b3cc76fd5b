// The Docker engine the container tests use; see docs/operations.md, "Containers".
import { spawn, spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { mkdirSync, openSync } from 'node:fs';
import { fromRoot } from '../../lib/platform/projectRoot.js';
import {
  aptInstall,
  findExecutable,
  MissingInfrastructureError,
  runTool,
  type Say,
} from '../infrastructure/hostTools.js';

/** The daemon this starts writes its log here; `.local/` is never committed. */
export const DOCKERD_LOG = fromRoot('.local', 'logs', 'dockerd.log');

/**
 * The environment of every docker command. The classic builder reads the Dockerfile itself;
 * BuildKit would first pull its Dockerfile frontend (`# syntax=`) from Docker Hub, which an
 * offline machine cannot reach.
 */
const DOCKER_ENV = { ...process.env, DOCKER_BUILDKIT: '0' };

/** Runs `docker …` and returns its standard output; throws with its standard error. */
export const docker = (args: readonly string[], options: SpawnSyncOptions = {}): string =>
  runTool('docker', args, { env: DOCKER_ENV, ...options });

/** Whether `docker …` exits 0 (its output unread), given at most `timeoutMs`. */
export const dockerSucceeds = (args: readonly string[], timeoutMs?: number): boolean =>
  spawnSync('docker', args, { stdio: 'ignore', env: DOCKER_ENV, timeout: timeoutMs }).status === 0;

const engineAnswers = () => dockerSucceeds(['info', '--format', '{{.ServerVersion}}']);

/**
 * A Docker engine that answers: the one running, or Debian's `docker.io` daemon, installed if
 * missing and started in the background (it keeps running after the tests, like RabbitMQ).
 */
export async function ensureDocker(say: Say): Promise<void> {
  if (findExecutable('docker', []) && engineAnswers()) return;
  if (!findExecutable('docker', []) || !findExecutable('dockerd', ['/usr/sbin/dockerd'])) {
    aptInstall('docker.io', 'The Docker engine', 'DOCKER_HOST', say);
  }
  const dockerd = findExecutable('dockerd', ['/usr/sbin/dockerd']);
  if (!dockerd || process.getuid?.() !== 0) {
    throw new MissingInfrastructureError(
      'No Docker engine answers: start one (dockerd needs root), or set DOCKER_HOST.',
    );
  }
  say(`Docker: starting dockerd (log: ${DOCKERD_LOG})…`);
  mkdirSync(fromRoot('.local', 'logs'), { recursive: true });
  const log = openSync(DOCKERD_LOG, 'a');
  spawn(dockerd, [], { detached: true, stdio: ['ignore', log, log] }).unref();
  const deadline = Date.now() + 60_000;
  while (!engineAnswers()) {
    if (Date.now() > deadline) {
      throw new MissingInfrastructureError(
        `dockerd did not answer within 60 s: see ${DOCKERD_LOG}.`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** Whether an image of that name and tag is in the engine. */
export const hasImage = (reference: string): boolean =>
  dockerSucceeds(['image', 'inspect', reference]);
