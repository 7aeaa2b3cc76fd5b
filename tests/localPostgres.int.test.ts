import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureLocalDatabase } from '../scripts/infrastructure/localPostgres.js';
import {
  startPrivateFerretDb,
  startPrivatePostgres,
  type PrivateService,
} from './helpers/privateServices.js';
import type { PostgresServer } from '../scripts/infrastructure/localPostgres.js';

/**
 * `npm start` on a bare Debian machine: PostgreSQL there asks for a password over TCP
 * (scram-sha-256) and knows its administrator only by the OS user on the socket (peer). The
 * local store then gets a role of its own with a generated password, made through the socket,
 * and FerretDB runs on it with its indexes and settings.
 */
describe('local PostgreSQL with password authentication', () => {
  const keys = mkdtempSync(join(tmpdir(), 'reelflux-pgkeys-'));
  const passwordFile = join(keys, 'postgresql-reelflux.password');
  let postgres: PrivateService & { server: PostgresServer };

  beforeAll(async () => {
    postgres = await startPrivatePostgres({ passwords: true });
  }, 60_000);
  afterAll(async () => {
    await postgres?.dispose();
    rmSync(keys, { recursive: true, force: true });
  });

  const ensure = () =>
    ensureLocalDatabase({
      server: postgres.server,
      database: 'reelflux_store',
      passwordFile,
      say: () => {},
    });
  const asUrl = (url: string, sql: string) =>
    spawnSync('psql', ['-X', '-q', '-w', '-tA', '-c', sql, url], { encoding: 'utf8' });

  it('refuses the passwordless administrator over TCP, so the password path is the one taken', () => {
    const trust = asUrl(
      `postgres://postgres@127.0.0.1:${postgres.server.port}/postgres`,
      'SELECT 1',
    );
    expect(trust.status).not.toBe(0);
    expect(trust.stderr).toMatch(/password/i);
  });

  it('makes a role and database of its own, with a password kept in a private file', () => {
    const found = ensure();
    if (!('url' in found)) throw new Error(JSON.stringify(found));
    const url = new URL(found.url);
    expect(url.username).toBe('reelflux_store');
    expect(url.password).toBe(readFileSync(passwordFile, 'utf8').trim());
    expect(statSync(passwordFile).mode & 0o777).toBe(0o600);
    const who = asUrl(found.url, 'SELECT current_user, current_database()');
    expect(who.stdout.trim()).toBe('reelflux_store|reelflux_store');
    // Run again (a restart): the same URL, nothing made twice; and once the role exists, its
    // own password reaches it without the socket (a non-root run after a root one).
    expect(ensure()).toEqual(found);
    const socketless = ensureLocalDatabase({
      server: { ...postgres.server, socketDir: '/nonexistent' },
      database: 'reelflux_store',
      passwordFile,
      say: () => {},
    });
    expect(socketless).toEqual(found);
  });

  it('runs FerretDB on it, with the wrapper’s indexes and plan settings', async () => {
    const found = ensure();
    if (!('url' in found)) throw new Error(JSON.stringify(found));
    let ferretdb: PrivateService | undefined;
    try {
      ferretdb = await startPrivateFerretDb({ postgresqlUrl: found.url });
      const client = new MongoClient(ferretdb.url);
      try {
        const chunks = client.db('media').collection('videos.chunks');
        await chunks.createIndex({ files_id: 1, n: 1 }, { unique: true });
        await chunks.insertOne({ files_id: 1, n: 0 });
        expect(await chunks.countDocuments()).toBe(1);
      } finally {
        await client.close();
      }
      // The wrapper sets these as the database's owner (no superuser needed).
      const deadline = Date.now() + 10_000;
      let setting = '';
      while (Date.now() < deadline && setting !== 'force_custom_plan') {
        setting = asUrl(found.url, 'SHOW plan_cache_mode').stdout.trim();
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      expect(setting).toBe('force_custom_plan');
    } finally {
      await ferretdb?.dispose();
    }
  });
});
