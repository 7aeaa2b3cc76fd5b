import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fromRoot } from '../lib/platform/projectRoot.js';

/**
 * The import graph of the sources: no module reaches itself through its imports. ESLint's
 * no-restricted-imports (eslint.config.js) keeps the layers of lib/ and the process folders
 * apart; cycles need the whole graph, so they are checked here.
 */
const FOLDERS = ['lib', 'router', 'subgraphs', 'worker', 'sdk', 'scripts'];

function sources(): string[] {
  return FOLDERS.flatMap((folder) =>
    readdirSync(fromRoot(folder), { withFileTypes: true, recursive: true })
      .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
      .map((entry) => relative(fromRoot(), join(entry.parentPath, entry.name))),
  );
}

/** Each source's project imports, type-only ones included (they tangle the design as much). */
function importGraph(files: string[]): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const text = readFileSync(fromRoot(file), 'utf8');
    const targets = [...text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)].map(
      ([, specifier = '']) => join(dirname(file), specifier).replace(/\.js$/, '.ts'),
    );
    graph.set(
      file,
      targets.filter((target) => files.includes(target)),
    );
  }
  return graph;
}

/** Every cycle, each as the path that closes it. */
function cycles(graph: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (file: string, path: string[]) => {
    if (state.get(file) === 'done') return;
    if (state.get(file) === 'visiting') {
      found.push([...path.slice(path.indexOf(file)), file]);
      return;
    }
    state.set(file, 'visiting');
    for (const target of graph.get(file) ?? []) visit(target, [...path, file]);
    state.set(file, 'done');
  };
  for (const file of graph.keys()) visit(file, []);
  return found;
}

describe('imports', () => {
  const graph = importGraph(sources());

  it('reads the whole graph', () => {
    expect(graph.size).toBeGreaterThan(100);
    expect(graph.get('router/server.ts')).toContain('router/config.ts');
  });

  it('has no cycle', () => {
    expect(cycles(graph).map((cycle) => cycle.join(' → '))).toEqual([]);
  });

  it('finds a cycle when there is one', () => {
    const looped = new Map([
      ['a.ts', ['b.ts']],
      ['b.ts', ['c.ts']],
      ['c.ts', ['a.ts']],
    ]);
    expect(cycles(looped)).toEqual([['a.ts', 'b.ts', 'c.ts', 'a.ts']]);
  });
});
