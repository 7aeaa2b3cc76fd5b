import 'vitest';
import { chmodSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { fromRoot } from '../lib/platform/projectRoot.js';
import { compose, ensureCompose, LOCAL_PORTS } from '../scripts/containers/compose.js';
import { ensureDocker } from '../scripts/containers/docker.js';
import { ensureImages, type BuiltImages } from '../scripts/containers/localImages.js';
import { ensureDeployKeys } from '../scripts/ensureDeployKeys.js';
import { ensureFfmpeg } from '../scripts/infrastructure/ensureFfmpeg.js';

export interface ContainerStack {
  /** The compose command (`docker compose`, or the binary built here). */
  compose: string[];
  /** The environment compose must run with (where the stack's keys are). */
  env: Record<string, string>;
  routerUrl: string;
  /** The FerretDB stand-in, for looking at what the stack stored. */
  mongodbUri: string;
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

/**
 * A key set of the stack's own, made for the run and removed after it. Compose bind-mounts each
 * secret as the file it is, and the containers read them as their own users (1000, and 999 for
 * RabbitMQ), so the files are 0444; the folder (0700) keeps everyone else on the host out.
 */
function keysForContainers(): string {
  const dir = fromRoot('.local', 'containers', 'keys');
  rmSync(dir, { recursive: true, force: true });
  ensureDeployKeys(dir);
  chmodSync(dir, 0o700);
  for (const file of readdirSync(dir)) chmodSync(join(dir, file), 0o444);
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
  const tools = ensureFfmpeg(process.env, say);
  const keys = keysForContainers();
  const env = { ...process.env, REELFLUX_KEYS_DIR: keys } as Record<string, string>;
  const run = (args: string[]) => compose(command, args, { env });
  const down = () => {
    run(['down', '--volumes', '--remove-orphans', '--timeout', '5']);
    rmSync(keys, { recursive: true, force: true });
  };
  run(['down', '--volumes', '--remove-orphans', '--timeout', '5']);
  const started = Date.now();
  try {
    run(['up', '--detach', '--no-build', '--wait', '--wait-timeout', '240']);
  } catch (error) {
    // What the containers said, if they can say it, then nothing left on the host's ports.
    try {
      say(run(['logs', '--no-color', '--tail', '40']));
    } catch {
      // The logs only help; the failure to report is `up`'s.
    }
    down();
    throw error;
  }
  const healthySeconds = (Date.now() - started) / 1_000;
  say(`stack healthy ${healthySeconds.toFixed(1)} s after compose up`);
  project.provide('containers', {
    compose: command,
    env,
    routerUrl: `http://127.0.0.1:${LOCAL_PORTS.router}`,
    mongodbUri: `mongodb://127.0.0.1:${LOCAL_PORTS.ferretdb}/`,
    ...tools,
    images,
    healthySeconds,
  });
  return async () => down();
}
