import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The folder holding REELFLUX's package.json, found by walking up from this file. Code runs
 * both from sources (tests) and from dist/ (npm start, the image), at different depths, and
 * still needs the committed .graphql files beside the sources.
 */
export const projectRoot: string = findRoot(dirname(fileURLToPath(import.meta.url)));

function findRoot(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      const { name } = JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string };
      if (name === 'reelflux') return dir;
    }
    if (dirname(dir) === dir) throw new Error(`no reelflux package.json above ${start}`);
  }
}

export function fromRoot(...parts: string[]): string {
  return join(projectRoot, ...parts);
}
