// The images the cluster runs: the app and the MongoDB and RabbitMQ stand-ins as
// `npm run test:containers` makes them (scripts/containers), and the pause image; imported
// into the cluster's containerd, since the kubelet can pull from nowhere here.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fromRoot } from '../../lib/platform/projectRoot.js';
import { docker, ensureDocker } from '../containers/docker.js';
import { ensureImages, IMAGES, type BuiltImages } from '../containers/localImages.js';
import type { Say } from '../infrastructure/hostTools.js';
import { COREDNS_IMAGE, CONTAINERD_SOCKET, PAUSE_IMAGE, STATE } from './layout.js';

/** What k8s/overlays/local-cluster names, in the order the overlay lists them. */
export const CLUSTER_IMAGES = [
  IMAGES.app,
  IMAGES.ferretdb,
  IMAGES.rabbitmq,
  PAUSE_IMAGE,
  COREDNS_IMAGE,
] as const;

/** Docker builds the images (cached after the first run); returns what ensureImages says. */
export async function buildClusterImages(
  binaries: { pause: string; coredns: string },
  say: Say,
): Promise<BuiltImages> {
  await ensureDocker(say);
  const built = ensureImages(say);
  singleBinaryImage(PAUSE_IMAGE, binaries.pause, 'pause/Dockerfile');
  singleBinaryImage(COREDNS_IMAGE, binaries.coredns, 'coredns.Dockerfile');
  return built;
}

/** An image of one static binary (FROM scratch), from a Dockerfile in scripts/cluster. */
function singleBinaryImage(tag: string, binary: string, dockerfile: string): void {
  mkdirSync(STATE, { recursive: true });
  const context = mkdtempSync(join(STATE, 'image-'));
  try {
    copyFileSync(binary, join(context, basename(binary)));
    copyFileSync(fromRoot('scripts', 'cluster', dockerfile), join(context, 'Dockerfile'));
    docker(['build', '-q', '-t', tag, context]);
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
}

/** `docker save | ctr import` into the namespace the kubelet's CRI uses. */
export function importClusterImages(say: Say): void {
  say(`importing ${CLUSTER_IMAGES.join(', ')} into containerd…`);
  const pipeline =
    `docker save ${CLUSTER_IMAGES.join(' ')} | ` +
    `ctr --address '${CONTAINERD_SOCKET}' -n k8s.io images import -`;
  const run = spawnSync('bash', ['-o', 'pipefail', '-c', pipeline], {
    encoding: 'utf8',
    env: { ...process.env, DOCKER_BUILDKIT: '0' },
    maxBuffer: 16 * 1024 * 1024,
  });
  if (run.status !== 0) throw new Error(`importing the images failed: ${run.stderr.slice(-2_000)}`);
}
