// Where the local Kubernetes cluster (scripts/cluster, `npm run test:cluster`) keeps things,
// and the addresses it uses; see docs/operations.md, "Local Kubernetes cluster".
import { fromRoot } from '../../lib/platform/projectRoot.js';

export const KUBERNETES_VERSION = 'v1.34.2';
export const ETCD_VERSION = 'v3.6.6';
export const COREDNS_VERSION = 'v1.12.1';

/** Binaries, built once per version; never committed (.local/ is ignored). */
export const BIN = fromRoot('.local', 'cluster', 'bin');
/** Everything one cluster run makes: certificates, etcd's data, containerd's root, logs. */
export const STATE = fromRoot('.local', 'cluster', 'state');
/** Kept after `down`, to read what went wrong. */
export const LOGS = fromRoot('.local', 'cluster', 'logs');
export const PKI = `${STATE}/pki`;
export const KUBECONFIG = `${STATE}/admin.kubeconfig`;
/** containerd's socket, apart from any containerd the machine runs. */
export const CONTAINERD_SOCKET = '/run/reelflux-cluster/containerd.sock';
export const RUN_DIR = '/run/reelflux-cluster';
export const KUBELET_ROOT = '/var/lib/reelflux-kubelet';
export const CNI_CONF_DIR = `${STATE}/cni`;

/**
 * Addresses only in 198.18.0.0/15, the block reserved for network tests: the node is the
 * bridge's own address, so pods reach the API server and NodePorts as they would a node's.
 */
export const NETWORK = {
  bridge: 'reelflux0',
  podCidr: '198.18.0.0/24',
  nodeIp: '198.18.0.1',
  serviceCidr: '198.19.0.0/24',
  apiServiceIp: '198.19.0.1',
  dnsIp: '198.19.0.10',
  clusterDomain: 'cluster.local',
} as const;

/** Ports on the node address only, none of those the other test suites use on the host. */
export const PORTS = { apiserver: 6443, etcd: 23790, etcdPeer: 23800, kubelet: 10250 } as const;

/** The images the kubelet runs, all built here and imported into containerd's k8s.io namespace. */
export const PAUSE_IMAGE = 'reelflux-local/pause:3.10';
export const COREDNS_IMAGE = 'reelflux-local/coredns:1.12.1';
