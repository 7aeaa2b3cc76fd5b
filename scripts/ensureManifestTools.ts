import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { fromRoot } from '../lib/platform/projectRoot.js';
import { buildGoProgram } from './infrastructure/buildGoProgram.js';
import { findExecutable, MissingInfrastructureError } from './infrastructure/hostTools.js';

/** The newest kustomize that builds with this machine's Go (1.26); v5.8 wants a newer one. */
export const KUSTOMIZE_VERSION = 'v5.7.1';

/** The Go tools the deployment checks run, built once into `.local/bin` like FerretDB. */
export interface ManifestTools {
  kustomize: string;
  /** scripts/manifestcheck: compose-go's loader and BuildKit's Dockerfile linter. */
  manifestcheck: string;
}

export function ensureManifestTools(say: (line: string) => void = () => undefined): ManifestTools {
  const manifestcheck = fromRoot('.local', 'bin', 'manifestcheck');
  buildGoProgram({
    source: fromRoot('scripts', 'manifestcheck'),
    bin: manifestcheck,
    what: 'the compose and Dockerfile checker',
    otherwise: 'skip the deployment checks',
    say,
  });
  return { kustomize: ensureKustomize(say), manifestcheck };
}

/** kustomize from the Go module proxy; the version is in the file name. */
function ensureKustomize(say: (line: string) => void): string {
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
    {
      env: { ...process.env, GOBIN: gobin, GOFLAGS: '' },
      stdio: ['ignore', 'inherit', 'inherit'],
    },
  );
  if (build.status !== 0) {
    throw new MissingInfrastructureError('Building kustomize failed (see the Go output above)');
  }
  renameSync(`${gobin}/kustomize`, bin);
  rmSync(gobin, { recursive: true, force: true });
  return bin;
}
