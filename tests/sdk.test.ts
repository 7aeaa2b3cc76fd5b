import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { generate } from '@graphql-codegen/cli';
import { describe, expect, it } from 'vitest';
import config from '../codegen.js';
import { fromRoot } from '../lib/platform/projectRoot.js';

/** What the SDK may import: Node's own modules, its client libraries, and itself. */
const ALLOWED = /^(node:|graphql$|graphql-ws$|ws$|@graphql-typed-document-node\/core$|\.{1,2}\/)/;
/**
 * Files outside sdk/ that the SDK may import, so client and server encode the same way. Each
 * imports nothing but another of these, so it pulls no server code in behind it.
 */
const SHARED_WITH_SERVER = [
  'lib/contracts/filenameParameters.ts',
  'lib/contracts/graphqlMultipart.ts',
  'lib/contracts/conversionStatus.ts',
  'lib/contracts/errorCodes.ts',
];

const importsOf = (source: string) =>
  [...source.matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)].map(([, specifier = '']) => specifier);

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

  it('pulls in no server code: only Node, graphql, graphql-ws, ws, its own files and the shared encoder', () => {
    const root = fromRoot('sdk');
    const offending: string[] = [];
    for (const file of sourcesUnder(root)) {
      for (const specifier of importsOf(readFileSync(file, 'utf8'))) {
        const target = relative(fromRoot(), join(dirname(file), specifier)).replace(/\.js$/, '.ts');
        const escapes = specifier.startsWith('.') && !target.startsWith('sdk/');
        if (!ALLOWED.test(specifier) || (escapes && !SHARED_WITH_SERVER.includes(target)))
          offending.push(`${relative(root, file)}: ${specifier}`);
      }
    }
    expect(offending).toEqual([]);
    for (const shared of SHARED_WITH_SERVER) {
      const targets = importsOf(readFileSync(fromRoot(shared), 'utf8')).map((specifier) =>
        relative(fromRoot(), join(dirname(fromRoot(shared)), specifier)).replace(/\.js$/, '.ts'),
      );
      expect(
        targets.filter((target) => !SHARED_WITH_SERVER.includes(target)),
        shared,
      ).toEqual([]);
    }
  });
});
