// What a minikube node brings besides Kubernetes itself: cluster DNS and volumes for the
// StatefulSets' claims (minikube's hostpath provisioner; here, volumes made in advance).
import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fromRoot } from '../../lib/platform/projectRoot.js';
import type { ClusterBinaries } from './binaries.js';
import { STATE } from './layout.js';
import { NODE_NAME } from './pki.js';
import { kubectl } from './up.js';

/** Enough for the single-node overlay and the production overlay's three RabbitMQ nodes. */
const VOLUMES = 8;

/**
 * hostPath PersistentVolumes without a storage class, which claims without one bind to (there
 * is no default StorageClass). Folders are 0777: the databases run as uid 999, and fsGroup does
 * not apply to hostPath volumes.
 */
function volumes(): string {
  const items = Array.from({ length: VOLUMES }, (_, index) => {
    const path = join(STATE, 'volumes', `pv-${index}`);
    mkdirSync(path, { recursive: true });
    chmodSync(path, 0o777);
    return {
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name: `reelflux-local-${index}` },
      spec: {
        capacity: { storage: '20Gi' },
        accessModes: ['ReadWriteOnce'],
        persistentVolumeReclaimPolicy: 'Retain',
        storageClassName: '',
        hostPath: { path, type: 'Directory' },
        nodeAffinity: {
          required: {
            nodeSelectorTerms: [
              {
                matchExpressions: [
                  { key: 'kubernetes.io/hostname', operator: 'In', values: [NODE_NAME] },
                ],
              },
            ],
          },
        },
      },
    };
  });
  return JSON.stringify({ apiVersion: 'v1', kind: 'List', items });
}

/** CoreDNS (waited for) and the volumes. */
export function applyAddons(bin: ClusterBinaries): void {
  kubectl(bin, ['apply', '-f', fromRoot('scripts', 'cluster', 'coredns.yaml')]);
  kubectl(bin, ['apply', '-f', '-'], volumes());
  kubectl(bin, ['-n', 'kube-system', 'rollout', 'status', 'deployment/coredns', '--timeout=120s']);
}
