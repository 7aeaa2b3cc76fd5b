import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqp from 'amqplib';
import { freePort } from '../../scripts/spawnStack.js';
import { startFerretDb } from '../../scripts/infrastructure/ensureMongo.js';
import { portOpen } from '../../scripts/infrastructure/hostTools.js';
import {
  LOCAL_POSTGRESQL,
  psql,
  type PostgresServer,
} from '../../scripts/infrastructure/localPostgres.js';

/**
 * A database or broker of the fault suite's own, so it can be stopped and started without
 * touching the shared ones other test files are using at the same time.
 */
export interface PrivateService {
  url: string;
  /** Stops it the way an operator or a crash would; data on disk is kept. */
  stop(): Promise<void>;
  /** Starts it again on the same port and data, and waits until it answers. */
  start(): Promise<void>;
  /** Stops it for good and deletes its data. */
  dispose(): Promise<void>;
}

/**
 * FerretDB on its own port: the SQLite handler with its own data folder, or the PostgreSQL
 * handler on the database `postgresqlUrl` names. `stop` kills it, as a crash would.
 */
export async function startPrivateFerretDb(
  options: { postgresqlUrl?: string } = {},
): Promise<PrivateService> {
  const dataDir = mkdtempSync(join(tmpdir(), 'reelflux-faults-ferretdb-'));
  const port = await freePort();
  const backend = options.postgresqlUrl
    ? ['--handler=postgresql', `--postgresql-url=${options.postgresqlUrl}`]
    : ['--handler=sqlite', `--sqlite-url=file:${dataDir}/`];
  let running: Awaited<ReturnType<typeof startFerretDb>> | undefined;

  const service: PrivateService = {
    url: `mongodb://127.0.0.1:${port}/`,
    async start() {
      running = await startFerretDb(port, backend);
    },
    async stop() {
      await running?.crash();
      running = undefined;
    },
    async dispose() {
      await service.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  await service.start();
  return service;
}

/**
 * A private FerretDB on a database made for it on the machine's PostgreSQL (trust
 * authentication, as on this machine kind), dropped again by `dispose`.
 */
export async function startFerretDbOnFreshDatabase(
  database: string,
): Promise<PrivateService & { database: string }> {
  psql('postgres', `DROP DATABASE IF EXISTS ${database}; CREATE DATABASE ${database};`);
  const ferretdb = await startPrivateFerretDb({ postgresqlUrl: `${LOCAL_POSTGRESQL}/${database}` });
  return {
    ...ferretdb,
    database,
    async dispose() {
      await ferretdb.dispose();
      psql('postgres', `DROP DATABASE IF EXISTS ${database} WITH (FORCE);`);
    },
  };
}

const POSTGRESQL_VERSIONS = '/usr/lib/postgresql';

/**
 * A PostgreSQL server of its own (Debian's binaries, installed for the local store): its own
 * data folder, port and socket folder, and a database `reelflux`. Trust authentication like
 * the machine's by default (`url` is then that database's URL, for FerretDB's PostgreSQL
 * handler); `passwords` asks for scram-sha-256 over TCP and peer on the socket, as a bare
 * Debian install does (and `url` then names no usable role).
 */
export async function startPrivatePostgres(
  options: { passwords?: boolean } = {},
): Promise<PrivateService & { server: PostgresServer }> {
  const versions = existsSync(POSTGRESQL_VERSIONS) ? readdirSync(POSTGRESQL_VERSIONS) : [];
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
  if (!newest) throw new Error(`no PostgreSQL under ${POSTGRESQL_VERSIONS}: install postgresql`);
  const bin = (name: string) => join(POSTGRESQL_VERSIONS, newest, 'bin', name);
  const base = mkdtempSync(join(tmpdir(), 'reelflux-faults-postgresql-'));
  const asRoot = process.getuid?.() === 0;
  // PostgreSQL refuses to run as root: there it runs as the postgres user Debian's package made.
  if (asRoot)
    chownSync(base, Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' })), -1);
  const as = (name: string, args: string[]): [string, string[]] =>
    asRoot ? ['runuser', ['-u', 'postgres', '--', bin(name), ...args]] : [bin(name), args];
  const run = (name: string, args: string[]) => execFileSync(...as(name, args), { stdio: 'pipe' });
  const data = join(base, 'data');
  const port = await freePort();
  const auth = options.passwords
    ? ['--auth-host=scram-sha-256', '--auth-local=peer']
    : ['--auth=trust'];
  run('initdb', ['-D', data, ...auth, '-U', 'postgres', '-E', 'UTF8', '--no-sync']);

  const service = {
    url: `postgres://postgres@127.0.0.1:${port}/reelflux`,
    server: { host: '127.0.0.1', port, socketDir: base },
    async start() {
      const options = `-p ${port} -k ${base} -c listen_addresses=127.0.0.1`;
      run('pg_ctl', ['-D', data, '-o', options, '-l', join(base, 'log'), '-w', 'start']);
    },
    async stop() {
      // Immediate: no checkpoint, the next start recovers from the WAL, as after a crash.
      // spawnSync, not run: stopping a server that is not running is no error here.
      spawnSync(...as('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']));
    },
    async dispose() {
      await service.stop();
      rmSync(base, { recursive: true, force: true });
    },
  };
  await service.start();
  run('psql', [
    '-X',
    '-q',
    '-w',
    '-h',
    base,
    '-p',
    String(port),
    '-U',
    'postgres',
    '-d',
    'postgres',
    '-c',
    'CREATE DATABASE reelflux',
  ]);
  return service;
}

const RABBITMQ_SERVER = '/usr/lib/rabbitmq/bin/rabbitmq-server';
const RABBITMQCTL = '/usr/lib/rabbitmq/bin/rabbitmqctl';

/**
 * A RabbitMQ node of its own (Debian's rabbitmq-server, already installed for the shared one):
 * its own node name, AMQP and distribution ports, and data folder, so its durable queues and
 * persistent messages survive a restart exactly as a real broker's do.
 */
export async function startPrivateRabbitMq(): Promise<PrivateService> {
  if (!existsSync(RABBITMQ_SERVER)) {
    throw new Error(`${RABBITMQ_SERVER} is missing: install Debian's rabbitmq-server`);
  }
  const base = mkdtempSync(join(tmpdir(), 'reelflux-faults-rabbitmq-'));
  writeFileSync(join(base, 'enabled_plugins'), '[].\n');
  const port = await freePort();
  const node = `reelflux-faults-${process.pid}@localhost`;
  const env = {
    ...process.env,
    RABBITMQ_NODENAME: node,
    RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
    RABBITMQ_NODE_PORT: String(port),
    RABBITMQ_DIST_PORT: String(await freePort()),
    RABBITMQ_MNESIA_BASE: join(base, 'mnesia'),
    RABBITMQ_LOG_BASE: join(base, 'log'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(base, 'enabled_plugins'),
    RABBITMQ_CONFIG_FILE: join(base, 'rabbitmq'),
  };
  const url = `amqp://guest:guest@127.0.0.1:${port}`;

  const service: PrivateService = {
    url,
    async start() {
      spawnSync(RABBITMQ_SERVER, ['-detached'], { env, stdio: 'ignore' });
      await waitFor(
        `RabbitMQ node ${node}`,
        async () => {
          if (!(await portOpen(port))) return false;
          const connection = await amqp.connect(url, { timeout: 2_000 });
          await connection.close();
          return true;
        },
        60_000,
      );
    },
    async stop() {
      // A clean stop, as `systemctl restart rabbitmq-server` does: what is durable stays.
      spawnSync(RABBITMQCTL, ['-n', node, 'stop'], { env, stdio: 'ignore', timeout: 30_000 });
      await waitFor(`RabbitMQ node ${node} to stop`, async () => !(await portOpen(port)));
    },
    async dispose() {
      await service.stop();
      rmSync(base, { recursive: true, force: true });
    },
  };
  await service.start();
  return service;
}

async function waitFor(what: string, ready: () => Promise<boolean>, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await ready()) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
