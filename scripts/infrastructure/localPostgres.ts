// One piece of `ensureInfrastructure` (scripts/ensureInfrastructure.ts); see docs/operations.md.
import { randomBytes } from 'node:crypto';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { MissingInfrastructureError, type Say } from './hostTools.js';

/**
 * Runs `sql` with psql on `database` of the local PostgreSQL: no prompt (`-w`: a refusal is an
 * error, not a wait), unaligned rows, stop at the first error.
 */
export function runPsql(database: string, sql: string): SpawnSyncReturns<string> {
  return runPsqlAt(`${LOCAL_POSTGRESQL}/${database}`, sql);
}

/** runPsql's output, or an error carrying psql's own message. */
export function psql(database: string, sql: string): string {
  const run = runPsql(database, sql);
  if (run.status !== 0) throw new Error(`psql on ${database}: ${run.stderr || run.error?.message}`);
  return run.stdout;
}

/** runPsql on any server: `target` is a URL, or `-h socketDir -p port`-style arguments. */
function runPsqlAt(
  target: string | string[],
  sql: string,
  asUser?: string,
): SpawnSyncReturns<string> {
  const args = ['-X', '-q', '-w', '-tA', '-v', 'ON_ERROR_STOP=1', ...[target].flat()];
  // PostgreSQL's peer authentication on the Unix socket takes the OS user for the role.
  const [command, commandArgs] =
    asUser === undefined ? ['psql', args] : ['runuser', ['-u', asUser, '--', 'psql', ...args]];
  return spawnSync(command, commandArgs, { input: sql, encoding: 'utf8' });
}

/** Where a PostgreSQL server answers: TCP for FerretDB, the Unix socket for setting it up. */
export interface PostgresServer {
  host: string;
  port: number;
  /** The folder of its Unix socket; Debian's is /var/run/postgresql. */
  socketDir: string;
}

export const LOCAL_SERVER: PostgresServer = {
  host: '127.0.0.1',
  port: 5432,
  socketDir: '/var/run/postgresql',
};

/** The local PostgreSQL, reached as `postgres` without a password (trust authentication). */
export const LOCAL_POSTGRESQL = `postgres://postgres@${LOCAL_SERVER.host}:${LOCAL_SERVER.port}`;

/** What ensureLocalDatabase found: the database's URL, or why there is none yet. */
export type LocalDatabase = { url: string } | { unreachable: string } | { refused: string };

/**
 * The database `database` on `server`, made once, and a URL FerretDB can reach it with.
 *
 * - Trust authentication (as this machine kind's PostgreSQL has): the role `postgres`, no
 *   password.
 * - Password authentication (Debian's default for TCP, scram-sha-256): a role named like the
 *   database, owning it, with a password of its own generated once into `passwordFile`. Both
 *   are made through the Unix socket as the OS user `postgres` (peer authentication, which
 *   needs root), so no administrator password is ever asked for.
 */
export function ensureLocalDatabase(options: {
  server: PostgresServer;
  database: string;
  passwordFile: string;
  say: Say;
}): LocalDatabase {
  const { server, database } = options;
  const tcp = (role: string) => `postgres://${role}@${server.host}:${server.port}`;
  const exists = `SELECT 1 FROM pg_database WHERE datname = '${database}'`;
  const trusted = runPsqlAt(`${tcp('postgres')}/postgres`, exists);
  if (trusted.status === 0) {
    if (trusted.stdout.trim() !== '1')
      create(runPsqlAt(`${tcp('postgres')}/postgres`, `CREATE DATABASE ${database}`));
    return { url: `${tcp('postgres')}/${database}` };
  }
  if (!/password/i.test(trusted.stderr)) return { unreachable: trusted.stderr.trim() };
  const ownUrl = (password: string) =>
    `postgres://${database}:${password}@${server.host}:${server.port}/${database}`;
  // Made before (maybe by root): the role's own password is enough, no socket needed.
  const kept = readPassword(options.passwordFile);
  if (kept !== undefined && runPsqlAt(ownUrl(kept), 'SELECT 1').status === 0) {
    return { url: ownUrl(kept) };
  }

  const superuser = ['-h', server.socketDir, '-p', String(server.port), 'postgres'];
  const asPostgres = (sql: string) =>
    runPsqlAt(superuser, sql, process.getuid?.() === 0 ? 'postgres' : undefined);
  const password = kept ?? makePassword(options.passwordFile);
  // The password is base64url: nothing in it needs quoting.
  const role = asPostgres(
    `DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${database}') THEN CREATE ROLE ${database} LOGIN; END IF; END $$;` +
      ` ALTER ROLE ${database} PASSWORD '${password}'; ${exists};`,
  );
  if (role.status !== 0) return { refused: role.stderr.trim() };
  if (role.stdout.trim() !== '1')
    create(asPostgres(`CREATE DATABASE ${database} OWNER ${database}`));
  options.say(`PostgreSQL: role and database ${database}, its password in ${options.passwordFile}`);
  return { url: ownUrl(password) };
}

function create(run: SpawnSyncReturns<string>): void {
  if (run.status !== 0) {
    throw new MissingInfrastructureError(
      `Could not create the PostgreSQL database: ${run.stderr.trim()}`,
    );
  }
}

/** The kept password, or undefined if there is none; unreadable is an error worth a sentence. */
function readPassword(file: string): string | undefined {
  if (!existsSync(file)) return undefined;
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (error) {
    throw new MissingInfrastructureError(
      `${file} cannot be read (${(error as Error).message}): run npm start as the user that made it.`,
    );
  }
}

function makePassword(file: string): string {
  const password = randomBytes(24).toString('base64url');
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, `${password}\n`, { mode: 0o600 });
  return password;
}
