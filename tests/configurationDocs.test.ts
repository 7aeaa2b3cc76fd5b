import { generateKeyPairSync } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fromRoot } from '../lib/platform/projectRoot.js';
import { loadRouterConfig } from '../router/config.js';
import { loadAuthConfig } from '../subgraphs/auth/config.js';
import { loadConversionConfig } from '../subgraphs/conversion/config.js';
import { loadMediaConfig } from '../subgraphs/media/config.js';
import { loadNotificationConfig } from '../subgraphs/notification/config.js';
import { loadWorkerConfig } from '../worker/config.js';

/**
 * docs/configuration.md is the one list of variables: every variable a config module reads is
 * in its table, and every variable in the table is read somewhere in the code.
 */
const LOADERS = {
  router: loadRouterConfig,
  auth: loadAuthConfig,
  media: loadMediaConfig,
  conversion: loadConversionConfig,
  notification: loadNotificationConfig,
  worker: loadWorkerConfig,
};

/** The fewest variables with which every loader succeeds. */
const MINIMAL: NodeJS.ProcessEnv = {
  MONGODB_URI: 'mongodb://127.0.0.1:27017',
  AMQP_URL: 'amqp://127.0.0.1:5672',
  INTERNAL_HOP_SECRET: 'h'.repeat(32),
  DOWNLOAD_TOKEN_SECRET: 'd'.repeat(32),
  JWT_PRIVATE_KEY: generateKeyPairSync('ed25519')
    .privateKey.export({ type: 'pkcs8', format: 'pem' })
    .toString(),
};

/** The names a loader looks up, recorded through a proxy of the environment. */
function variablesRead(load: (source: NodeJS.ProcessEnv) => unknown): Set<string> {
  const read = new Set<string>();
  const recording = new Proxy(MINIMAL, {
    get(target, name) {
      if (typeof name === 'string') read.add(name);
      return Reflect.get(target, name) as unknown;
    },
    has(target, name) {
      if (typeof name === 'string') read.add(name);
      return Reflect.has(target, name);
    },
  });
  load(recording);
  return read;
}

function documented(): Set<string> {
  const names = new Set<string>();
  for (const line of readFileSync(fromRoot('docs', 'configuration.md'), 'utf8').split('\n')) {
    const first = /^\| ([^|]+) \|/.exec(line)?.[1];
    for (const [, name] of first?.matchAll(/`([A-Z][A-Z0-9_]+)`/g) ?? []) names.add(name ?? '');
  }
  return names;
}

function sourceText(): string {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (/\.(ts|mjs|sh)$/.test(entry.name)) files.push(path);
    }
  };
  for (const dir of ['lib', 'router', 'subgraphs', 'worker', 'scripts', 'sdk']) walk(fromRoot(dir));
  return files.map((file) => readFileSync(file, 'utf8')).join('\n');
}

describe('docs/configuration.md', () => {
  const table = documented();

  it.each(Object.entries(LOADERS))('lists every variable %s reads', (_, load) => {
    const missing = [...variablesRead(load)].filter((name) => !table.has(name));
    expect(missing).toEqual([]);
  });

  it('lists nothing the code does not read', () => {
    expect(table.size).toBeGreaterThan(40);
    // Loaders build some names (`${NAME}_FILE`, `${SUBGRAPH}_URL`); scripts read the rest.
    const read = new Set(Object.values(LOADERS).flatMap((load) => [...variablesRead(load)]));
    const code = sourceText();
    const unread = [...table].filter(
      (name) => !read.has(name) && !new RegExp(`\\b${name}\\b`).test(code),
    );
    expect(unread).toEqual([]);
  });
});
