// The deployment a minikube user makes (README, docs/operations.md "minikube"), on the local
// cluster: the overlay, the keys Secret, then every Deployment and StatefulSet available.
import { chmodSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fromRoot } from '../../lib/platform/projectRoot.js';
import { ensureDeployKeys } from '../ensureDeployKeys.js';
import type { Say } from '../infrastructure/hostTools.js';
import type { ClusterBinaries } from './binaries.js';
import { STATE } from './layout.js';
import { kubectl } from './up.js';

export const NAMESPACE = 'reelflux';
export const OVERLAY = fromRoot('k8s', 'overlays', 'local-cluster');

/**
 * A key set for this cluster only, made as `npm run deploy:keys` makes one and kept for the
 * cluster's life (`down` removes it): RabbitMQ loads its users once, at its first boot, so a
 * second `up` must not change a password.
 */
function clusterKeys(): string {
  const dir = join(STATE, 'keys');
  ensureDeployKeys(dir);
  for (const file of readdirSync(dir)) chmodSync(join(dir, file), 0o600);
  return dir;
}

/** `kubectl apply -k` the overlay and create reelflux-keys; seconds until all is available. */
export function deployReelflux(bin: ClusterBinaries, timeoutSeconds: number, say: Say): number {
  const started = Date.now();
  kubectl(bin, ['apply', '-k', OVERLAY]);
  const secret = kubectl(bin, [
    '-n',
    NAMESPACE,
    'create',
    'secret',
    'generic',
    'reelflux-keys',
    `--from-file=${clusterKeys()}`,
    '--dry-run=client',
    '-o',
    'json',
  ]);
  kubectl(bin, ['apply', '-f', '-'], secret);
  say(`applied ${OVERLAY}; waiting up to ${timeoutSeconds} s for every workload…`);
  waitForWorkloads(bin, timeoutSeconds);
  return (Date.now() - started) / 1_000;
}

/** Every Deployment Available and every StatefulSet rolled out, within the limit overall. */
export function waitForWorkloads(bin: ClusterBinaries, timeoutSeconds: number): void {
  const deadline = Date.now() + timeoutSeconds * 1_000;
  const left = () => `--timeout=${Math.max(1, Math.round((deadline - Date.now()) / 1_000))}s`;
  const names = (kind: string) =>
    kubectl(bin, ['-n', NAMESPACE, 'get', kind, '-o', 'name']).split('\n').filter(Boolean);
  for (const workload of [...names('statefulset'), ...names('deployment')]) {
    kubectl(bin, ['-n', NAMESPACE, 'rollout', 'status', workload, left()]);
  }
}
