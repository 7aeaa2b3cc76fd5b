import { readFileSync } from 'node:fs';
import { fromRoot } from '../../lib/platform/projectRoot.js';

/**
 * `id → what happened` from one table of SECURITY.md (first and last columns): the table
 * before the first `##` heading when `section` is not given, else the one under `## section`.
 */
export function securityTable(section?: string): Map<string, string> {
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
