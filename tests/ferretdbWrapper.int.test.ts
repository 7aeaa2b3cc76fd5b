import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { fromRoot } from '../lib/platform/projectRoot.js';
import { findExecutable } from '../scripts/infrastructure/hostTools.js';

/**
 * The FerretDB wrapper's own Go tests (scripts/ferretdb/*_test.go), run here so `npm test` runs
 * them: which replies are rewritten as HostUnreachable while PostgreSQL is away, and which are
 * passed on untouched.
 */
describe('FerretDB wrapper (Go)', () => {
  it('passes go test', { timeout: 180_000 }, () => {
    const go = findExecutable('go', ['/usr/local/go/bin/go']);
    if (!go) throw new Error('Go is not installed; the local store needs it to build FerretDB');
    const run = spawnSync(go, ['test', '-count=1', './...'], {
      cwd: fromRoot('scripts', 'ferretdb'),
      encoding: 'utf8',
    });
    expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(0);
    expect(run.stdout).toMatch(/^ok\s+reelflux\.local\/ferretdb/m);
  });
});
