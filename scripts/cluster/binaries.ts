// The cluster's programs, built from the Go module proxy once per version and cached under
// .local/cluster/bin, like the FerretDB binary (scripts/infrastructure/buildGoProgram.ts).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromRoot } from '../../lib/platform/projectRoot.js';
import {
  findExecutable,
  MissingInfrastructureError,
  type Say,
} from '../infrastructure/hostTools.js';
import { BIN, COREDNS_VERSION, ETCD_VERSION, KUBERNETES_VERSION } from './layout.js';

const KUBERNETES_COMMANDS = [
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'kubelet',
  'kube-proxy',
  'kubectl',
] as const;

/** Where each program of the cluster is. */
export type ClusterBinaries = Record<
  (typeof KUBERNETES_COMMANDS)[number] | 'etcd' | 'coredns' | 'pause',
  string
>;

interface GoBuild {
  /** A folder of scripts/cluster holding a go.mod of its own. */
  module: string;
  version: string;
  /** Import paths of the main packages; '.' for the module's own. */
  packages: readonly string[];
  ldflags?: string;
  /** Runs in an image FROM scratch: no C library there, so no cgo. */
  static?: boolean;
}

/**
 * The version ldflags: without them the programs call themselves v0.0.0-master, and the
 * kubelet's and kubectl's version checks against the API server go wrong.
 */
function kubernetesLdflags(): string {
  const [major, minor] = KUBERNETES_VERSION.slice(1).split('.');
  const set = (name: string, value: string) => `-X k8s.io/component-base/version.${name}=${value}`;
  return [
    '-s -w',
    set('gitVersion', KUBERNETES_VERSION),
    set('gitMajor', major ?? ''),
    set('gitMinor', minor ?? ''),
    set('gitTreeState', 'clean'),
  ].join(' ');
}

const BUILDS: readonly GoBuild[] = [
  {
    module: 'kubernetes',
    version: KUBERNETES_VERSION,
    packages: KUBERNETES_COMMANDS.map((name) => `k8s.io/kubernetes/cmd/${name}`),
    ldflags: kubernetesLdflags(),
  },
  { module: 'etcd', version: ETCD_VERSION, packages: ['.'] },
  { module: 'coredns', version: COREDNS_VERSION, packages: ['.'], static: true },
  { module: 'pause', version: 'v1', packages: ['.'], static: true },
];

/** A hash of what decides the binaries: the module's Go files, go.mod, go.sum and ldflags. */
function recipeHash(build: GoBuild, source: string): string {
  const hash = createHash('sha256').update(
    `${build.ldflags ?? ''} static=${build.static === true}`,
  );
  for (const file of readdirSync(source).sort()) {
    if (/\.go$|^go\.(mod|sum)$/.test(file))
      hash.update(file).update(readFileSync(join(source, file)));
  }
  return hash.digest('hex');
}

/** Builds one module's programs into their own folder, unless its stamp says they are there. */
function buildModule(build: GoBuild, say: Say): string {
  const source = fromRoot('scripts', 'cluster', build.module);
  const out = join(BIN, `${build.module}-${build.version}`);
  const stamp = join(out, '.stamp');
  const digest = recipeHash(build, source);
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === digest) return out;
  const go = findExecutable('go', ['/usr/local/go/bin/go']);
  if (!go)
    throw new MissingInfrastructureError('The cluster is built with Go: install Go 1.24 or newer.');
  say(`building ${build.module} ${build.version} once (kube-apiserver alone takes minutes cold)…`);
  const started = Date.now();
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const target = build.packages.length > 1 ? `${out}/` : join(out, build.module);
  const args = ['build', '-o', target, ...(build.ldflags ? ['-ldflags', build.ldflags] : [])];
  const result = spawnSync(go, [...args, ...build.packages], {
    cwd: source,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: build.static ? { ...process.env, CGO_ENABLED: '0' } : process.env,
  });
  if (result.status !== 0) {
    throw new MissingInfrastructureError(
      `Building ${build.module} ${build.version} failed (see the Go output above): check that the Go module proxy is reachable.`,
    );
  }
  writeFileSync(stamp, digest);
  say(`built ${build.module} ${build.version} in ${((Date.now() - started) / 1_000).toFixed(0)} s`);
  return out;
}

/** The pause binary alone (the images need it before the cluster's other programs). */
export function ensurePauseBinary(say: Say): string {
  const pause = BUILDS.find((build) => build.module === 'pause') as GoBuild;
  return join(buildModule(pause, say), 'pause');
}

/** Every program of the cluster, built if missing; seconds spent building in this call. */
export function ensureClusterBinaries(say: Say): { bin: ClusterBinaries; seconds: number } {
  const started = Date.now();
  const [kubernetes, etcd, coredns, pause] = BUILDS.map((build) => buildModule(build, say)) as [
    string,
    string,
    string,
    string,
  ];
  const fromKubernetes = Object.fromEntries(
    KUBERNETES_COMMANDS.map((name) => [name, join(kubernetes, name)]),
  ) as Record<(typeof KUBERNETES_COMMANDS)[number], string>;
  const bin: ClusterBinaries = {
    ...fromKubernetes,
    etcd: join(etcd, 'etcd'),
    coredns: join(coredns, 'coredns'),
    pause: join(pause, 'pause'),
  };
  return { bin, seconds: (Date.now() - started) / 1_000 };
}
