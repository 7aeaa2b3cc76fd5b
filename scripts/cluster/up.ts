// `up`: a single-node cluster from upstream Kubernetes on this machine, idempotent (what runs
// is left running). See docs/operations.md, "Local Kubernetes cluster".
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Say } from '../infrastructure/hostTools.js';
import type { ClusterBinaries } from './binaries.js';
import { CONFIG, writeConfigs } from './configs.js';
import {
  CONTAINERD_SOCKET,
  KUBECONFIG,
  KUBELET_ROOT,
  NETWORK,
  PKI,
  PORTS,
  STATE,
} from './layout.js';
import { ensurePki, NODE_NAME, writeKubeconfig, type Client } from './pki.js';
import { startProcess, waitFor } from './processes.js';

const kubeconfigOf = (client: Client) =>
  client === 'admin' ? KUBECONFIG : join(STATE, `${client}.kubeconfig`);

/** kubectl as the cluster's admin; throws with kubectl's error. */
export function kubectl(bin: ClusterBinaries, args: readonly string[], input?: string): string {
  const run = spawnSync(bin.kubectl, ['--kubeconfig', KUBECONFIG, ...args], {
    encoding: 'utf8',
    input,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (run.status !== 0) {
    throw new Error(
      `kubectl ${args.join(' ')} failed: ${(run.stderr || run.stdout).slice(-2_000)}`,
    );
  }
  return run.stdout;
}

const kubectlSucceeds = (bin: ClusterBinaries, args: readonly string[]) =>
  spawnSync(bin.kubectl, ['--kubeconfig', KUBECONFIG, ...args], { stdio: 'ignore' }).status === 0;

const httpOk = async (url: string) => {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(2_000) })).ok;
  } catch {
    return false;
  }
};

/** etcd on loopback only, plain HTTP: only the API server on this machine talks to it. */
async function startEtcd(bin: ClusterBinaries): Promise<void> {
  const client = `http://127.0.0.1:${PORTS.etcd}`;
  const peer = `http://127.0.0.1:${PORTS.etcdPeer}`;
  startProcess('etcd', bin.etcd, [
    `--name=${NODE_NAME}`,
    `--data-dir=${join(STATE, 'etcd')}`,
    `--listen-client-urls=${client}`,
    `--advertise-client-urls=${client}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=${NODE_NAME}=${peer}`,
    '--listen-metrics-urls=',
  ]);
  await waitFor('etcd', () => httpOk(`${client}/health`), 60_000, 'etcd');
}

async function startApiServer(bin: ClusterBinaries): Promise<void> {
  const pem = (name: string) => join(PKI, name);
  startProcess('kube-apiserver', bin['kube-apiserver'], [
    `--etcd-servers=http://127.0.0.1:${PORTS.etcd}`,
    `--bind-address=${NETWORK.nodeIp}`,
    `--advertise-address=${NETWORK.nodeIp}`,
    `--secure-port=${PORTS.apiserver}`,
    `--service-cluster-ip-range=${NETWORK.serviceCidr}`,
    `--client-ca-file=${pem('ca.crt')}`,
    `--tls-cert-file=${pem('apiserver.crt')}`,
    `--tls-private-key-file=${pem('apiserver.key')}`,
    `--kubelet-client-certificate=${pem('apiserver-kubelet-client.crt')}`,
    `--kubelet-client-key=${pem('apiserver-kubelet-client.key')}`,
    '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
    `--service-account-key-file=${pem('sa.pub')}`,
    `--service-account-signing-key-file=${pem('sa.key')}`,
    '--authorization-mode=Node,RBAC',
    '--enable-admission-plugins=NodeRestriction',
    '--allow-privileged=true',
    // The node's name resolves nowhere (no DNS for it): logs, exec and port-forward use its IP.
    '--kubelet-preferred-address-types=InternalIP',
  ]);
  await waitFor(
    'kube-apiserver',
    () => kubectlSucceeds(bin, ['get', '--raw', '/readyz']),
    120_000,
    'kube-apiserver',
  );
}

function startControllers(bin: ClusterBinaries): void {
  const pem = (name: string) => join(PKI, name);
  startProcess('kube-controller-manager', bin['kube-controller-manager'], [
    `--kubeconfig=${kubeconfigOf('kube-controller-manager')}`,
    '--bind-address=127.0.0.1',
    '--leader-elect=false',
    '--use-service-account-credentials=true',
    `--root-ca-file=${pem('ca.crt')}`,
    `--service-account-private-key-file=${pem('sa.key')}`,
    `--cluster-signing-cert-file=${pem('ca.crt')}`,
    `--cluster-signing-key-file=${pem('ca.key')}`,
    `--service-cluster-ip-range=${NETWORK.serviceCidr}`,
    // The kubelet is given the pod range itself (podCIDR); nothing here allocates one.
    '--allocate-node-cidrs=false',
  ]);
  startProcess('kube-scheduler', bin['kube-scheduler'], [
    `--kubeconfig=${kubeconfigOf('kube-scheduler')}`,
    '--bind-address=127.0.0.1',
    '--leader-elect=false',
  ]);
}

async function startContainerd(): Promise<void> {
  startProcess('containerd', '/usr/bin/containerd', ['--config', CONFIG.containerd]);
  await waitFor('containerd', () => existsSync(CONTAINERD_SOCKET), 30_000, 'containerd');
}

function startNode(bin: ClusterBinaries): void {
  mkdirSync(KUBELET_ROOT, { recursive: true });
  startProcess('kubelet', bin.kubelet, [
    `--config=${CONFIG.kubelet}`,
    `--kubeconfig=${kubeconfigOf('kubelet')}`,
    `--hostname-override=${NODE_NAME}`,
    `--node-ip=${NETWORK.nodeIp}`,
    `--root-dir=${KUBELET_ROOT}`,
    `--cert-dir=${join(STATE, 'kubelet-pki')}`,
  ]);
  startProcess('kube-proxy', bin['kube-proxy'], [`--config=${CONFIG.kubeProxy}`]);
}

/**
 * Everything up to a Ready node: certificates, etcd, the control plane, containerd (with the
 * images imported by `importImages` once it answers), the kubelet and kube-proxy.
 */
export async function startCluster(
  bin: ClusterBinaries,
  importImages: () => void,
  say: Say,
): Promise<void> {
  mkdirSync(STATE, { recursive: true });
  ensurePki();
  for (const client of [
    'admin',
    'kube-controller-manager',
    'kube-scheduler',
    'kubelet',
    'kube-proxy',
  ] as const) {
    writeKubeconfig(client, kubeconfigOf(client));
  }
  writeConfigs(kubeconfigOf('kube-proxy'));
  say('starting etcd and the control plane…');
  await startEtcd(bin);
  await startApiServer(bin);
  startControllers(bin);
  say('starting containerd, importing images…');
  await startContainerd();
  importImages();
  say('starting the kubelet and kube-proxy…');
  startNode(bin);
  await waitFor(
    `node ${NODE_NAME} Ready`,
    () =>
      kubectlSucceeds(bin, ['wait', '--for=condition=Ready', `node/${NODE_NAME}`, '--timeout=2s']),
    120_000,
    'kubelet',
  );
}
