import 'vitest';
import { chmodSync, chownSync, copyFileSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { fromRoot } from '../lib/platform/projectRoot.js';
import { compose, ensureCompose } from '../scripts/containers/compose.js';
import { ensureDocker } from '../scripts/containers/docker.js';
import { ensureImages, type BuiltImages } from '../scripts/containers/localImages.js';
import { DEPLOY_KEYS_DIR, ensureDeployKeys, keyFiles } from '../scripts/ensureDeployKeys.js';
import { ensureFfmpeg } from '../scripts/infrastructure/ensureFfmpeg.js';

export interface ContainerStack {
  /** The compose command (`docker compose`, or the binary built here). */
  compose: string[];
  /** The environment compose must run with (where the stack's keys are). */
  env: Record<string, string>;
  routerUrl: string;
  /** ffmpeg and ffprobe on the machine, for fixtures and for checking MP3s. */
  ffmpegPath: string;
  ffprobePath: string;
  images: BuiltImages;
  /** Seconds from `compose up` until every container was healthy. */
  healthySeconds: number;
}

declare module 'vitest' {
  export interface ProvidedContext {
    containers: ContainerStack;
  }
}

/** The uids that read the secrets inside the containers (the images' users). */
const PROCESS_UID = 1000;
const RABBITMQ_UID = 999;

/**
 * Compose bind-mounts each secret with the host file's owner and mode, so the stack gets a copy
 * of the deploy keys that each container's user can read (only root can hand them over).
 */
function keysForContainers(): string {
  ensureDeployKeys();
  const dir = fromRoot('.local', 'containers', 'keys');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  for (const file of readdirSync(DEPLOY_KEYS_DIR)) {
    const copy = join(dir, file);
    copyFileSync(join(DEPLOY_KEYS_DIR, file), copy);
    chmodSync(copy, 0o400);
    if (process.getuid?.() === 0) {
      const owner = file === keyFiles.rabbitmqDefinitions ? RABBITMQ_UID : PROCESS_UID;
      chownSync(copy, owner, owner);
    }
  }
  return dir;
}

/**
 * Builds the images and brings the stack up with the project's compose file and the
 * host-network override; afterwards removes it, volumes included.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const say = (line: string) => process.stdout.write(`containers | ${line}\n`);
  await ensureDocker(say);
  const command = ensureCompose(say);
  const images = ensureImages(say);
  say(
    `images: local bases ${images.baseSeconds.toFixed(0)} s, ` +
      `Dockerfile build ${images.appBuildSeconds.toFixed(0)} s on ${images.nodeImage}`,
  );
  const env = { ...process.env, REELFLUX_KEYS_DIR: keysForContainers() } as Record<string, string>;
  const run = (args: string[]) => compose(command, args, { env });
  run(['down', '--volumes', '--remove-orphans', '--timeout', '5']);
  const started = Date.now();
  try {
    run(['up', '--detach', '--no-build', '--wait', '--wait-timeout', '240']);
  } catch (error) {
    say(run(['logs', '--no-color', '--tail', '40']));
    throw error;
  }
  const healthySeconds = (Date.now() - started) / 1_000;
  say(`stack healthy ${healthySeconds.toFixed(1)} s after compose up`);
  project.provide('containers', {
    compose: command,
    env,
    routerUrl: 'http://127.0.0.1:4100',
    ...ensureFfmpeg(process.env, say),
    images,
    healthySeconds,
  });
  return async () => {
    run(['down', '--volumes', '--remove-orphans', '--timeout', '5']);
  };
}
