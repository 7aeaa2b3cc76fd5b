// `down`: removes everything `up` made, in the order that leaves nothing behind: the node
// (kubelet, kube-proxy), containerd's containers and shims, the control plane, network
// namespaces, the bridge, mounts, iptables chains, cgroups and the state folder. The binaries
// stay (.local/cluster/bin), as FerretDB's do.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Say } from '../infrastructure/hostTools.js';
import { CONTAINERD_SOCKET, KUBELET_ROOT, NETWORK, RUN_DIR, STATE } from './layout.js';
import { sleep, stopProcess } from './processes.js';

const quiet = (command: string, args: readonly string[]) =>
  spawnSync(command, args, { encoding: 'utf8' });

const ctr = (args: readonly string[]) =>
  quiet('ctr', ['--address', CONTAINERD_SOCKET, '-n', 'k8s.io', ...args]);

const lines = (text: string | null) =>
  (text ?? '')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);

/** Kills and removes every container of the cluster's containerd (not any other containerd's). */
async function removeContainers(): Promise<void> {
  if (!existsSync(CONTAINERD_SOCKET)) return;
  const tasks = lines(ctr(['tasks', 'ls', '-q']).stdout);
  for (const task of tasks) ctr(['tasks', 'kill', '-s', 'SIGKILL', task]);
  if (tasks.length > 0) await sleep(1_000);
  for (const task of tasks) ctr(['tasks', 'delete', '--force', task]);
  for (const container of lines(ctr(['containers', 'ls', '-q']).stdout)) {
    ctr(['containers', 'delete', container]);
  }
}

/** containerd's shims outlive containerd: those started for this socket, by their pid. */
function killShims(): void {
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    let cmdline = '';
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (cmdline.includes('containerd-shim') && cmdline.includes(CONTAINERD_SOCKET)) {
      process.kill(Number(pid), 'SIGKILL');
    }
  }
}

/** The pods' network namespaces (CRI names them cni-…), their veths with them, and the bridge. */
function removeNetwork(): void {
  for (const line of lines(quiet('ip', ['netns', 'list']).stdout)) {
    const name = line.split(' ')[0] ?? '';
    if (name.startsWith('cni-')) quiet('ip', ['netns', 'delete', name]);
  }
  for (const line of lines(quiet('ip', ['-o', 'link', 'show', 'master', NETWORK.bridge]).stdout)) {
    const veth = /^\d+: ([^@:]+)/.exec(line)?.[1];
    if (veth) quiet('ip', ['link', 'delete', veth]);
  }
  quiet('ip', ['link', 'delete', NETWORK.bridge]);
}

/** Every mount under the cluster's folders, deepest first (sandboxes' shm, rootfs, volumes). */
function unmountAll(): void {
  const roots = [KUBELET_ROOT, RUN_DIR, STATE];
  const points = lines(readFileSync('/proc/self/mountinfo', 'utf8'))
    .map((line) => line.split(' ')[4] ?? '')
    .filter((point) => roots.some((root) => point === root || point.startsWith(`${root}/`)))
    .sort((a, b) => b.length - a.length);
  for (const point of points) quiet('umount', ['-l', point]);
}

/**
 * kube-proxy's KUBE-… chains, the bridge plugin's CNI-… chains and our REELFLUX-FORWARD, with the rules that jump to
 * them from the built-in chains; nothing else in the tables is touched.
 */
function removeIptablesChains(): void {
  for (const table of ['nat', 'filter', 'mangle']) {
    const rules = lines(quiet('iptables', ['-t', table, '-S']).stdout);
    const ours = (name: string) => /^(KUBE-|CNI-|REELFLUX-)/.test(name);
    for (const rule of rules) {
      const [verb, chain, ...rest] = rule.split(' ');
      const target = rest[rest.indexOf('-j') + 1] ?? '';
      if (verb === '-A' && chain && !ours(chain) && rest.includes('-j') && ours(target)) {
        quiet('sh', ['-c', `iptables -t ${table} -D ${chain} ${rest.join(' ')}`]);
      }
    }
    const chains = rules
      .filter((r) => r.startsWith('-N '))
      .map((r) => r.slice(3))
      .filter(ours);
    for (const chain of chains) quiet('iptables', ['-t', table, '-F', chain]);
    for (const chain of chains) quiet('iptables', ['-t', table, '-X', chain]);
  }
}

/** The kubelet's cgroups (kubepods…), children first, in each cgroup v1 hierarchy. */
function removeCgroups(): void {
  const base = '/sys/fs/cgroup';
  if (!existsSync(base)) return;
  for (const controller of readdirSync(base)) {
    const top = join(base, controller, 'kubepods');
    if (existsSync(top))
      quiet('sh', ['-c', `find '${top}' -depth -type d -exec rmdir {} + 2>/dev/null`]);
  }
}

/** The kubelet's links in /var/log/containers to the logs of its pods (under STATE). */
function removeLogLinks(): void {
  const dir = '/var/log/containers';
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir)) {
    const link = join(dir, name);
    let target = '';
    try {
      target = readlinkSync(link);
    } catch {
      continue;
    }
    if (target.startsWith(`${STATE}/`)) rmSync(link, { force: true });
  }
  // The kubelet makes these two even with its pod logs elsewhere; left only if something is in them.
  for (const folder of [dir, '/var/log/pods']) quiet('rmdir', [folder]);
}

export async function stopCluster(say: Say): Promise<void> {
  say('stopping the node…');
  await stopProcess('kubelet');
  await stopProcess('kube-proxy');
  await removeContainers();
  await stopProcess('containerd');
  killShims();
  say('stopping the control plane…');
  for (const name of ['kube-scheduler', 'kube-controller-manager', 'kube-apiserver', 'etcd']) {
    await stopProcess(name);
  }
  removeNetwork();
  unmountAll();
  removeIptablesChains();
  removeCgroups();
  removeLogLinks();
  for (const dir of [STATE, KUBELET_ROOT, RUN_DIR]) rmSync(dir, { recursive: true, force: true });
  say('cluster removed');
}
