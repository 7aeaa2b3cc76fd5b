import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { fromRoot } from '../lib/platform/projectRoot.js';

/**
 * The processes' code reads in units a reviewer can hold at once: no function in a process
 * folder is longer than this, from its first line to its last. A longer one is split into
 * named parts (the conversion service into intake, dispatch and sweep; the worker into the
 * stages of its pipeline).
 */
const MAX_LINES = 120;
const FOLDERS = ['router', 'subgraphs', 'worker'];

interface FunctionSpan {
  where: string;
  lines: number;
}

/** Every function (declarations, expressions, arrows, methods) in `text`, with its length. */
export function functionSpans(file: string, text: string): FunctionSpan[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const spans: FunctionSpan[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const first = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
      const last = source.getLineAndCharacterOfPosition(node.getEnd()).line;
      const name = node.name ? node.name.getText(source) : '(anonymous)';
      spans.push({ where: `${file}:${first + 1} ${name}`, lines: last - first + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return spans;
}

function sources(): string[] {
  return FOLDERS.flatMap((folder) =>
    readdirSync(fromRoot(folder), { withFileTypes: true, recursive: true })
      .filter((entry) => entry.isFile() && /\.tsx?$/.test(entry.name))
      .map((entry) => relative(fromRoot(), join(entry.parentPath, entry.name))),
  );
}

describe('function length', () => {
  it('measures a function from its first line to its last', () => {
    const body = Array.from({ length: 5 }, (_, i) => `  const a${i} = ${i};`).join('\n');
    const spans = functionSpans(
      'x.ts',
      `export function five() {\n${body}\n}\nconst f = () => 1;\n`,
    );
    expect(spans).toEqual([
      { where: 'x.ts:1 five', lines: 7 },
      { where: 'x.ts:8 (anonymous)', lines: 1 },
    ]);
  });

  it(`keeps every function in ${FOLDERS.join(', ')} within ${MAX_LINES} lines`, () => {
    const files = sources();
    expect(files.length).toBeGreaterThan(50);
    const tooLong = files
      .flatMap((file) => functionSpans(file, readFileSync(fromRoot(file), 'utf8')))
      .filter((span) => span.lines > MAX_LINES)
      .map((span) => `${span.where}: ${span.lines} lines`);
    expect(tooLong).toEqual([]);
  });
});
