// One piece of `ensureInfrastructure` (scripts/ensureInfrastructure.ts); see docs/operations.md.
import { spawn, spawnSync } from 'node:child_process';
import { MongoClient } from 'mongodb';
import { fromRoot } from '../../lib/platform/projectRoot.js';
import { readEnv } from '../../lib/platform/readEnv.js';
import { buildGoProgram } from './buildGoProgram.js';
import { ensureLocalDatabase, LOCAL_SERVER } from './localPostgres.js';
import {
  aptInstall,
  findExecutable,
  MissingInfrastructureError,
  redact,
  stopChild,
  type Say,
} from './hostTools.js';

// Everything local that is not ours to build (binaries, data, keys) lives under .local/.
const FERRETDB_SOURCE = fromRoot('scripts', 'ferretdb');
const FERRETDB_BIN = fromRoot('.local', 'bin', 'ferretdb');

/**
 * MONGODB_URI if set; else whatever answers on 127.0.0.1:FERRETDB_PORT; else our FerretDB on
 * its PostgreSQL handler, built once. `stop` stops only what this started.
 */
export async function ensureMongo(
  env: NodeJS.ProcessEnv,
  say: Say,
): Promise<{ uri: string; stop: () => Promise<void> }> {
  const nothing = async () => {};
  if (env.MONGODB_URI) {
    await expectMongo(env.MONGODB_URI, 5_000, 'MONGODB_URI');
    return { uri: env.MONGODB_URI, stop: nothing };
  }
  const port = readEnv(env).int('FERRETDB_PORT', 27017, { min: 1, max: 65535 });
  const uri = `mongodb://127.0.0.1:${port}/`;
  if (await answersMongo(uri, 1_500)) {
    say(`MongoDB: using the server already on 127.0.0.1:${port}`);
    return { uri, stop: nothing };
  }
  // A password goes to FerretDB's PostgreSQL driver in its environment, not on the command
  // line, where any local user could read it.
  const url = new URL(ensurePostgresDatabase(env, say));
  const password = url.password ? decodeURIComponent(url.password) : undefined;
  url.password = '';
  const store = await startFerretDb(
    port,
    ['--handler=postgresql', `--postgresql-url=${url.toString()}`],
    password === undefined ? {} : { PGPASSWORD: password },
    say,
  );
  say(`MongoDB: started FerretDB v1.24.2 (PostgreSQL handler) on 127.0.0.1:${port}`);
  return store;
}

/**
 * Our FerretDB on 127.0.0.1:`port` with `backend` (handler flags), once it answers. `stop` is a
 * tidy shutdown; `crash` kills it (SIGKILL), as the fault tests need.
 */
export async function startFerretDb(
  port: number,
  backend: string[],
  env: NodeJS.ProcessEnv = {},
  say: Say = () => {},
): Promise<{ uri: string; stop: () => Promise<void>; crash: () => Promise<void> }> {
  const uri = `mongodb://127.0.0.1:${port}/`;
  const child = spawn(
    buildFerretDb(say),
    [`--listen-addr=127.0.0.1:${port}`, ...backend, '--log-level=error'],
    { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, ...env } },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = () => stopChild(child, exited);
  const crash = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  try {
    await expectMongo(uri, 15_000, `FerretDB on port ${port}`);
  } catch (error) {
    await stop();
    throw error;
  }
  return { uri, stop, crash };
}

/**
 * FERRETDB_POSTGRESQL_URL as given; else a database of its own, `reelflux`, on the local
 * PostgreSQL, made once (ensureLocalDatabase: trust or password authentication), with Debian's
 * PostgreSQL installed and started first if need be.
 */
function ensurePostgresDatabase(env: NodeJS.ProcessEnv, say: Say): string {
  if (env.FERRETDB_POSTGRESQL_URL) return env.FERRETDB_POSTGRESQL_URL;
  if (!findExecutable('psql', [])) {
    aptInstall('postgresql', 'PostgreSQL', 'FERRETDB_POSTGRESQL_URL', say);
  }
  const ensure = () =>
    ensureLocalDatabase({
      server: LOCAL_SERVER,
      database: 'reelflux',
      passwordFile: fromRoot('.local', 'keys', 'postgresql-reelflux.password'),
      say,
    });
  let found = ensure();
  if ('unreachable' in found) {
    // Installed but not running (a fresh install, a reboot): start Debian's clusters.
    spawnSync(
      'sh',
      [
        '-c',
        'pg_ctlcluster --help >/dev/null 2>&1 && for c in /etc/postgresql/*/*; do pg_ctlcluster "$(basename "$(dirname "$c")")" "$(basename "$c")" start; done',
      ],
      { stdio: 'ignore' },
    );
    found = ensure();
  }
  if ('unreachable' in found) {
    throw new MissingInfrastructureError(
      `PostgreSQL does not answer on 127.0.0.1:5432 (${found.unreachable}): start it, or set FERRETDB_POSTGRESQL_URL.`,
    );
  }
  if ('refused' in found) {
    throw new MissingInfrastructureError(
      `PostgreSQL asks for a password, and a role of REELFLUX's own could not be made as the OS user postgres (${found.refused}): run npm start as root, or set FERRETDB_POSTGRESQL_URL.`,
    );
  }
  return found.url;
}

/**
 * Builds our FerretDB wrapper once (rebuilt only when its Go sources change) and returns its
 * path; the fault tests run private instances of it that they can stop and start.
 */
export function buildFerretDb(say: Say = () => {}): string {
  buildGoProgram({
    source: FERRETDB_SOURCE,
    bin: FERRETDB_BIN,
    what: 'FerretDB v1.24.2 (about two minutes on a cold Go cache)',
    otherwise: 'set MONGODB_URI to a MongoDB server',
    say,
  });
  return FERRETDB_BIN;
}

async function answersMongo(uri: string, timeoutMs: number): Promise<boolean> {
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: timeoutMs });
  try {
    await client.db('admin').command({ ping: 1 });
    return true;
  } catch {
    return false;
  } finally {
    await client.close();
  }
}

async function expectMongo(uri: string, timeoutMs: number, what: string): Promise<void> {
  if (!(await answersMongo(uri, timeoutMs))) {
    throw new MissingInfrastructureError(
      `${what} does not answer at ${redact(uri)}: start it, or point MONGODB_URI at a MongoDB server.`,
    );
  }
}
