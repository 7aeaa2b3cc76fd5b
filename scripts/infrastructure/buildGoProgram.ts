// One piece of `ensureInfrastructure` (scripts/ensureInfrastructure.ts); see docs/operations.md.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { findExecutable, MissingInfrastructureError, type Say } from './hostTools.js';

/**
 * `go build` of one of our small Go programs (its own go.mod under scripts/) into `bin`, skipped
 * while a stamp next to the binary matches the hash of its sources.
 */
export function buildGoProgram(options: {
  source: string;
  bin: string;
  what: string;
  /** What the user can do instead when Go is missing or the build fails. */
  otherwise: string;
  /** Files beyond the Go sources whose change means a rebuild. */
  inputs?: string[];
  /** Work done before `go build`, only when it runs; returns variables for its environment. */
  prepare?: () => NodeJS.ProcessEnv;
  say: Say;
}): void {
  const { source, bin } = options;
  const stamp = `${bin}.stamp`;
  const hash = createHash('sha256');
  for (const file of readdirSync(source).sort()) {
    if (/\.go$|^go\.(mod|sum)$/.test(file))
      hash.update(file).update(readFileSync(`${source}/${file}`));
  }
  for (const input of options.inputs ?? []) hash.update(input).update(readFileSync(input));
  const digest = hash.digest('hex');
  if (existsSync(bin) && existsSync(stamp) && readFileSync(stamp, 'utf8') === digest) return;
  const go = findExecutable('go', ['/usr/local/go/bin/go']);
  if (!go) {
    throw new MissingInfrastructureError(
      `${options.what} must be built but Go is not installed: install Go 1.24 or newer, or ${options.otherwise}.`,
    );
  }
  options.say(`building ${options.what} once…`);
  mkdirSync(dirname(bin), { recursive: true });
  const env = { ...process.env, ...options.prepare?.() };
  const build = spawnSync(go, ['build', '-o', bin, '.'], {
    cwd: source,
    env,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (build.status !== 0) {
    throw new MissingInfrastructureError(
      `Building ${options.what} failed (see the Go output above): check that the Go module proxy is reachable, or ${options.otherwise}.`,
    );
  }
  writeFileSync(stamp, digest);
}
