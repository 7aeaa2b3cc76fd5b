import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import { fromRoot } from '../../lib/platform/projectRoot.js';

/**
 * What a suite observed (`id → what happened`) is exactly one table of SECURITY.md: each row
 * says what happened, and the table has no row the suite did not observe.
 */
export function expectSecurityTable(outcomes: ReadonlyMap<string, string>, section?: string): void {
  const documented = securityTable(section);
  for (const [id, observed] of outcomes) {
    expect.soft(documented.get(id), `SECURITY.md row ${id}`).toBe(observed);
  }
  expect([...documented.keys()].sort()).toEqual([...outcomes.keys()].sort());
}

/**
 * `id → what happened` from one table of SECURITY.md (first and last columns): the table
 * before the first `##` heading when `section` is not given, else the one under `## section`.
 */
function securityTable(section?: string): Map<string, string> {
  const rows = new Map<string, string>();
  let inside = section === undefined;
  for (const line of readFileSync(fromRoot('SECURITY.md'), 'utf8').split('\n')) {
    if (line.startsWith('## ')) {
      inside = section !== undefined && line === `## ${section}`;
      continue;
    }
    if (!inside) continue;
    const match = /^\| `([a-zA-Z0-9]+\.[a-zA-Z0-9]+)` +\|.*\| (.+?) +\|$/.exec(line);
    if (match?.[1] && match[2]) rows.set(match[1], match[2].replace(/\\\|/g, '|'));
  }
  return rows;
}
