// What the node needs from the machine: Debian's container runtime, CNI plugins and netfilter
// tools, forwarding, bridged traffic through iptables, and the cluster's own bridge.
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import {
  aptInstall,
  findExecutable,
  MissingInfrastructureError,
  runTool,
  type Say,
} from '../infrastructure/hostTools.js';
import { NETWORK } from './layout.js';

const PACKAGES: readonly [pkg: string, probe: string][] = [
  ['containerd', '/usr/bin/containerd'],
  ['runc', '/usr/sbin/runc'],
  ['containernetworking-plugins', '/usr/lib/cni/bridge'],
  ['conntrack', '/usr/sbin/conntrack'],
  ['iptables', '/usr/sbin/iptables'],
  ['iproute2', '/usr/sbin/ip'],
];

/** Installs what is missing with apt (root only, as the kubelet needs root anyway). */
export function ensureHostPackages(say: Say): void {
  if (process.getuid?.() !== 0) {
    throw new MissingInfrastructureError('The local cluster runs a kubelet, which needs root.');
  }
  for (const [pkg, probe] of PACKAGES) {
    if (!existsSync(probe)) aptInstall(pkg, `The cluster's ${pkg}`, 'nothing', say);
  }
  if (!findExecutable('ctr', ['/usr/bin/ctr'])) aptInstall('containerd', 'ctr', 'nothing', say);
}

/**
 * Forwarding on, and bridged pod traffic through iptables: a pod reaching a Service whose
 * endpoint is on the same bridge is DNATed by kube-proxy only if the bridge hands it to
 * netfilter (br_netfilter, already loaded by this kernel).
 */
export function prepareHostNetwork(): void {
  writeFileSync('/proc/sys/net/ipv4/ip_forward', '1');
  const bridged = '/proc/sys/net/bridge/bridge-nf-call-iptables';
  if (!existsSync(bridged)) {
    throw new MissingInfrastructureError(
      'br_netfilter is not loaded: run `modprobe br_netfilter`.',
    );
  }
  writeFileSync(bridged, '1');
  // The bridge exists before the first pod, so the API server can listen on its address.
  const ip = (args: string[]) => spawnSync('ip', args, { stdio: 'ignore' }).status === 0;
  if (!ip(['link', 'show', NETWORK.bridge])) {
    runTool('ip', ['link', 'add', NETWORK.bridge, 'type', 'bridge']);
  }
  const prefix = NETWORK.podCidr.split('/')[1];
  const addresses = runTool('ip', ['-4', '-o', 'addr', 'show', 'dev', NETWORK.bridge]);
  if (!addresses.includes(`${NETWORK.nodeIp}/`)) {
    runTool('ip', ['addr', 'add', `${NETWORK.nodeIp}/${prefix}`, 'dev', NETWORK.bridge]);
  }
  runTool('ip', ['link', 'set', NETWORK.bridge, 'up']);
  acceptPodTraffic();
}

/** The chain of ours in the filter table; `down` removes it. */
export const FORWARD_CHAIN = 'REELFLUX-FORWARD';

/**
 * Docker sets FORWARD's policy to DROP, and pod traffic passes through FORWARD (routed, or
 * bridged with bridge-nf-call-iptables). Accepted at the end of FORWARD, after kube-proxy's
 * rules: those must see it first, to reject connections to a Service with no endpoints, which
 * would otherwise leave through the machine's default route (the CNI firewall plugin, tried
 * first, accepts at the top and let them out).
 */
function acceptPodTraffic(): void {
  const iptables = (args: string[]) =>
    spawnSync('iptables', args, { stdio: 'ignore' }).status === 0;
  iptables(['-N', FORWARD_CHAIN]);
  runTool('iptables', ['-F', FORWARD_CHAIN]);
  runTool('iptables', ['-A', FORWARD_CHAIN, '-i', NETWORK.bridge, '-j', 'ACCEPT']);
  runTool('iptables', ['-A', FORWARD_CHAIN, '-o', NETWORK.bridge, '-j', 'ACCEPT']);
  if (!iptables(['-C', 'FORWARD', '-j', FORWARD_CHAIN])) {
    runTool('iptables', ['-A', 'FORWARD', '-j', FORWARD_CHAIN]);
  }
}
