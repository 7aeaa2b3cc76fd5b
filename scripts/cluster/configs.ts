// The configuration files of containerd, the CNI bridge, the kubelet and kube-proxy.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NODE_NAME } from './pki.js';
import {
  CNI_CONF_DIR,
  CONTAINERD_SOCKET,
  NETWORK,
  PAUSE_IMAGE,
  PKI,
  PORTS,
  RUN_DIR,
  STATE,
} from './layout.js';

export const CONFIG = {
  containerd: join(STATE, 'containerd.toml'),
  kubelet: join(STATE, 'kubelet.yaml'),
  kubeProxy: join(STATE, 'kube-proxy.yaml'),
} as const;

/**
 * A second containerd, beside any the machine runs: its own root, state and socket, and the CRI
 * plugin (Debian's turns it off). This machine refuses negative OOM scores, which CRI gives
 * every pause container: restrict_oom_score_adj keeps them at or above containerd's own.
 */
function containerdToml(): string {
  const cri = 'plugins."io.containerd.grpc.v1.cri"';
  return `version = 2
root = "${STATE}/containerd/root"
state = "${RUN_DIR}/containerd"
disabled_plugins = []
[grpc]
  address = "${CONTAINERD_SOCKET}"
[ttrpc]
  address = "${CONTAINERD_SOCKET}.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "${STATE}/containerd/opt"
[${cri}]
  sandbox_image = "docker.io/${PAUSE_IMAGE}"
  restrict_oom_score_adj = true
[${cri}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"
[${cri}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
[${cri}.containerd.runtimes.runc.options]
  SystemdCgroup = false
[${cri}.cni]
  bin_dir = "/usr/lib/cni"
  conf_dir = "${CNI_CONF_DIR}"
`;
}

/** The bridge plugin on the cluster's own bridge, with host-local addresses in 198.18.0.0/24. */
function cniConflist(): string {
  return JSON.stringify({
    cniVersion: '0.4.0',
    name: 'reelflux',
    plugins: [
      {
        type: 'bridge',
        bridge: NETWORK.bridge,
        isGateway: true,
        ipMasq: true,
        // A pod that reaches itself through a Service comes back over its own veth.
        hairpinMode: true,
        ipam: {
          type: 'host-local',
          ranges: [
            [{ subnet: NETWORK.podCidr, rangeStart: '198.18.0.10', gateway: NETWORK.nodeIp }],
          ],
          routes: [{ dst: '0.0.0.0/0' }],
          dataDir: join(STATE, 'cni-ipam'),
        },
      },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  });
}

/**
 * cgroup v1 here: the kubelet refuses it unless failCgroupV1 is false, and uses cgroupfs since
 * no systemd manages the cgroups. oomScoreAdj 0: negative scores are refused (see above).
 */
function kubeletYaml(): string {
  return JSON.stringify({
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    address: NETWORK.nodeIp,
    port: PORTS.kubelet,
    readOnlyPort: 0,
    healthzBindAddress: '127.0.0.1',
    authentication: {
      anonymous: { enabled: false },
      webhook: { enabled: true },
      x509: { clientCAFile: join(PKI, 'ca.crt') },
    },
    authorization: { mode: 'Webhook' },
    cgroupDriver: 'cgroupfs',
    failCgroupV1: false,
    failSwapOn: false,
    oomScoreAdj: 0,
    clusterDNS: [NETWORK.dnsIp],
    clusterDomain: NETWORK.clusterDomain,
    containerRuntimeEndpoint: `unix://${CONTAINERD_SOCKET}`,
    hairpinMode: 'hairpin-veth',
    podCIDR: NETWORK.podCidr,
    // No upstream resolver for pods (the machine's is on a private address): cluster names only.
    resolvConf: join(STATE, 'resolv.conf'),
    // The machine's disk is shared with other work: evict only when it is nearly full.
    evictionHard: {
      'memory.available': '200Mi',
      'nodefs.available': '2%',
      'imagefs.available': '2%',
    },
    imageGCHighThresholdPercent: 99,
    imageGCLowThresholdPercent: 98,
    serializeImagePulls: false,
    // Containers' logs with the rest of the cluster's state, not in the machine's /var/log/pods.
    podLogsDir: join(STATE, 'pod-logs'),
  });
}

/** iptables mode, NodePorts on the node address only, and no conntrack sysctls touched. */
function kubeProxyYaml(kubeconfig: string): string {
  return JSON.stringify({
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    mode: 'iptables',
    clientConnection: { kubeconfig },
    clusterCIDR: NETWORK.podCidr,
    hostnameOverride: NODE_NAME,
    bindAddress: NETWORK.nodeIp,
    healthzBindAddress: '127.0.0.1:10256',
    metricsBindAddress: '127.0.0.1:10249',
    nodePortAddresses: [`${NETWORK.nodeIp}/32`],
    iptables: { localhostNodePorts: false, masqueradeAll: false },
    conntrack: {
      maxPerCore: 0,
      min: 0,
      tcpEstablishedTimeout: '0s',
      tcpCloseWaitTimeout: '0s',
    },
  });
}

/**
 * Writes a file only when its content changes: kube-proxy exits when its configuration file
 * changes under it, so `up` run again must leave the files alone.
 */
function writeIfChanged(file: string, content: string): void {
  if (existsSync(file) && readFileSync(file, 'utf8') === content) return;
  writeFileSync(file, content);
}

export function writeConfigs(kubeProxyKubeconfig: string): void {
  mkdirSync(CNI_CONF_DIR, { recursive: true });
  mkdirSync(RUN_DIR, { recursive: true });
  writeIfChanged(CONFIG.containerd, containerdToml());
  writeIfChanged(join(CNI_CONF_DIR, '10-reelflux.conflist'), cniConflist());
  writeIfChanged(join(STATE, 'resolv.conf'), '# The cluster resolves only its own names.\n');
  writeIfChanged(CONFIG.kubelet, kubeletYaml());
  writeIfChanged(CONFIG.kubeProxy, kubeProxyYaml(kubeProxyKubeconfig));
}
