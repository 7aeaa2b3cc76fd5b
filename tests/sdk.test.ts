import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { generate } from '@graphql-codegen/cli';
import { describe, expect, it } from 'vitest';
import config from '../codegen.js';
import { fromRoot } from '../lib/projectRoot.js';

/** What the SDK may import: Node's own modules, its client libraries, and itself. */
const ALLOWED = /^(node:|graphql$|graphql-ws$|ws$|@graphql-typed-document-node\/core$|\.{1,2}\/)/;

function sourcesUnder(folder: string): string[] {
  return readdirSync(folder, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => join(entry.parentPath, entry.name));
}

describe('SDK', () => {
  it('sdk/generated/graphql.ts is what graphql-codegen makes now (else run npm run codegen)', async () => {
    const outputs = (await generate({ ...config, cwd: fromRoot() }, false)) as {
      filename: string;
      content: string;
    }[];
    expect(outputs).toHaveLength(1);
    const [output] = outputs;
    expect(readFileSync(fromRoot(output?.filename ?? ''), 'utf8')).toBe(output?.content);
  });

  it('pulls in no server code: only Node, graphql, graphql-ws, ws and its own files', () => {
    const root = fromRoot('sdk');
    const offending: string[] = [];
    for (const file of sourcesUnder(root)) {
      const source = readFileSync(file, 'utf8');
      for (const [, specifier = ''] of source.matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)) {
        const escapes =
          specifier.startsWith('.') && !join(dirname(file), specifier).startsWith(root);
        if (!ALLOWED.test(specifier) || escapes)
          offending.push(`${relative(root, file)}: ${specifier}`);
      }
    }
    expect(offending).toEqual([]);
  });
});
