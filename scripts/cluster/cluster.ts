// The whole local cluster in one call, timed step by step: binaries, host packages, images,
// the node, add-ons, then REELFLUX's minikube overlay through k8s/overlays/local-cluster.
import type { Say } from '../infrastructure/hostTools.js';
import { applyAddons } from './addons.js';
import { ensureClusterBinaries, type ClusterBinaries } from './binaries.js';
import { deployReelflux } from './deploy.js';
import { ensureHostPackages, prepareHostNetwork } from './host.js';
import { buildClusterImages, importClusterImages } from './images.js';
import { startCluster } from './up.js';

/** Seconds each step took, in order, for the results table in docs/operations.md. */
export type StepTimes = Record<string, number>;

export interface RunningCluster {
  bin: ClusterBinaries;
  times: StepTimes;
}

/** Workloads must be available this long after `kubectl apply`. */
export const DEPLOY_TIMEOUT_SECONDS = 300;

export async function bringUp(say: Say): Promise<RunningCluster> {
  const times: StepTimes = {};
  const timed = async <T>(step: string, run: () => T | Promise<T>): Promise<T> => {
    const started = Date.now();
    const result = await run();
    times[step] = Math.round((Date.now() - started) / 100) / 10;
    return result;
  };
  const { bin } = await timed('binaries', () => ensureClusterBinaries(say));
  await timed('host packages', () => ensureHostPackages(say));
  await timed('images', () => buildClusterImages(bin, say));
  prepareHostNetwork();
  await timed('node ready', () => startCluster(bin, () => importClusterImages(say), say));
  await timed('CoreDNS and volumes', () => applyAddons(bin));
  await timed('REELFLUX available', () => deployReelflux(bin, DEPLOY_TIMEOUT_SECONDS, say));
  return { bin, times };
}
