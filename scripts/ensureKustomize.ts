import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fromRoot } from '../lib/projectRoot.js';
import { findExecutable, MissingInfrastructureError } from './ensureInfrastructure.js';

/** The newest kustomize that builds with this machine's Go (1.26); v5.8 wants a newer one. */
export const KUSTOMIZE_VERSION = 'v5.7.1';

/**
 * The kustomize binary the manifest checks run, built once from the Go module proxy into
 * `.local/bin` (like FerretDB) and reused; the version is in the file name.
 */
export function ensureKustomize(say: (line: string) => void = () => undefined): string {
  const bin = fromRoot('.local', 'bin', `kustomize-${KUSTOMIZE_VERSION}`);
  if (existsSync(bin)) return bin;
  const go = findExecutable('go', ['/usr/local/go/bin/go']);
  if (!go) throw new MissingInfrastructureError('kustomize must be built but Go is not installed');
  say(`kustomize: building ${KUSTOMIZE_VERSION} once (about a minute on a cold Go cache)…`);
  // Built beside its final place, so the rename never crosses file systems.
  const gobin = fromRoot('.local', 'bin', `.kustomize-build-${process.pid}`);
  mkdirSync(gobin, { recursive: true });
  const build = spawnSync(
    go,
    ['install', `sigs.k8s.io/kustomize/kustomize/v5@${KUSTOMIZE_VERSION}`],
    { env: { ...process.env, GOBIN: gobin, GOFLAGS: '' }, stdio: ['ignore', 'inherit', 'inherit'] },
  );
  if (build.status !== 0) {
    throw new MissingInfrastructureError('Building kustomize failed (see the Go output above)');
  }
  renameSync(join(gobin, 'kustomize'), bin);
  rmSync(gobin, { recursive: true, force: true });
  return bin;
}
