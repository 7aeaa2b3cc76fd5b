// Docker Compose for the container tests; see docs/operations.md, "Containers".
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fromRoot } from '../../lib/platform/projectRoot.js';
import {
  findExecutable,
  MissingInfrastructureError,
  runTool,
  type Say,
} from '../infrastructure/hostTools.js';

/** Compose v5.6, the newest that builds with Go 1.26. */
export const COMPOSE_VERSION = 'v5.6.0';
/** The oldest plugin that reads docker-compose.local.yml: `!reset` and `--wait-timeout`. */
const MINIMUM_PLUGIN = [2, 24] as const;

function atLeast(version: string, [major, minor]: readonly [number, number]): boolean {
  const [have = 0, haveMinor = 0] = version.trim().replace(/^v/, '').split('.').map(Number);
  return have > major || (have === major && haveMinor >= minor);
}
const MODULE = 'github.com/docker/compose/v5';

/** Where docker-compose.local.yml puts what the tests talk to, on 127.0.0.1. */
export const LOCAL_PORTS = { router: 4100, ferretdb: 27117 } as const;

/** The project's compose file with the host-network override, as `docker compose -f … -f …`. */
export const COMPOSE_FILES = ['docker-compose.yml', 'docker-compose.local.yml'] as const;

/**
 * `docker compose` (the CLI plugin) when the machine has one new enough, else Compose built once from the
 * Go module proxy into `.local/bin`, like kustomize. Debian's docker-compose 1.29 cannot read
 * the file: it predates `name:`, `!reset` and the Compose specification's long syntax.
 */
export function ensureCompose(say: Say): string[] {
  const plugin = spawnSync('docker', ['compose', 'version', '--short'], { encoding: 'utf8' });
  if (plugin.status === 0 && atLeast(plugin.stdout, MINIMUM_PLUGIN)) return ['docker', 'compose'];
  const bin = fromRoot('.local', 'bin', `docker-compose-${COMPOSE_VERSION}`);
  if (!existsSync(bin)) buildCompose(bin, say);
  return [bin];
}

/**
 * `go install …@version` refuses Compose (its go.mod has exclude directives), so the module is
 * downloaded and built as the main module, with the version stamped as its release is.
 */
function buildCompose(bin: string, say: Say): void {
  const go = findExecutable('go', ['/usr/local/go/bin/go']);
  if (!go) throw new MissingInfrastructureError('Docker Compose must be built but Go is missing');
  say(`Docker Compose: building ${COMPOSE_VERSION} once (a few minutes on a cold Go cache)…`);
  const env = { ...process.env, GOFLAGS: '' };
  const download = spawnSync(go, ['mod', 'download', '-json', `${MODULE}@${COMPOSE_VERSION}`], {
    encoding: 'utf8',
    env,
  });
  const dir = download.status === 0 ? (JSON.parse(download.stdout) as { Dir?: string }).Dir : '';
  if (!dir) throw new MissingInfrastructureError(`go mod download ${MODULE} failed`);
  // The module cache is read-only; the build writes go.sum entries beside the sources.
  const source = fromRoot('.local', 'containers', `compose-${COMPOSE_VERSION}`);
  rmSync(source, { recursive: true, force: true });
  cpSync(dir, source, { recursive: true, mode: 0 });
  spawnSync('chmod', ['-R', 'u+w', source]);
  mkdirSync(fromRoot('.local', 'bin'), { recursive: true });
  const partial = `${bin}.${process.pid}`;
  const build = spawnSync(
    go,
    [
      'build',
      '-o',
      partial,
      '-ldflags',
      `-X ${MODULE}/internal.Version=${COMPOSE_VERSION}`,
      './cmd',
    ],
    { cwd: source, env, stdio: ['ignore', 'inherit', 'inherit'] },
  );
  rmSync(source, { recursive: true, force: true });
  if (build.status !== 0) throw new MissingInfrastructureError('Building Docker Compose failed');
  renameSync(partial, bin);
}

/** Runs compose on the project's files; returns standard output, throws with standard error. */
export function compose(
  command: readonly string[],
  args: readonly string[],
  options: SpawnSyncOptions = {},
): string {
  const files = COMPOSE_FILES.flatMap((file) => ['-f', join(fromRoot(), file)]);
  const [program, ...leading] = command;
  if (!program) throw new Error('no compose command');
  return runTool(program, [...leading, ...files, ...args], { cwd: fromRoot(), ...options });
}
