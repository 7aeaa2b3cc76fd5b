import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { MongoClient } from 'mongodb';
import { fromRoot } from '../lib/platform/projectRoot.js';
import { SUBGRAPHS } from '../lib/contracts/subgraphs.js';
import { PROCESS_NAMES, type ProcessName } from '../lib/platform/processPorts.js';
import { infrastructureEnv, type Infrastructure } from './ensureInfrastructure.js';

export interface RunningStack {
  routerUrl: string;
  graphqlUrl: string;
  /** Base URL of each subgraph process, for tests that go around the router on purpose. */
  subgraphUrls: Record<string, string>;
  /** Each process's internal port (/healthz, /readyz, /metrics), by process name. */
  internalUrls: Record<ProcessName, string>;
  /** The environment the stack's processes got, for a test that starts one more. */
  env: NodeJS.ProcessEnv;
  launcher: ChildProcess;
  /** Everything the launcher printed so far. */
  output: () => string;
  /**
   * How many times the launcher restarted a process that died: none, in any suite that does
   * not kill one on purpose, since no request may end a process.
   */
  restarts: () => number;
  /** SIGINT to the launcher (as Ctrl-C), then drops this stack's databases. */
  stop: () => Promise<number | null>;
}

/**
 * Starts the whole stack as a child with the launcher users run (`dist/scripts/start.js`),
 * on free ports and with databases of its own (`dbPrefix`), and waits until it says it is
 * ready. For end-to-end tests and benchmarks. A port `extraEnv` names (`AUTH_PORT`, say, for
 * a test that puts something in front of auth) is kept; the others are picked free.
 */
export async function spawnStack(
  infra: Omit<Infrastructure, 'stop'>,
  dbPrefix: string,
  extraEnv: Record<string, string> = {},
): Promise<RunningStack> {
  const launcherPath = fromRoot('dist', 'scripts', 'start.js');
  if (!existsSync(launcherPath)) throw new Error('dist/ is missing: run `npm run build` first');
  const portOf = async (variable: string) => Number(extraEnv[variable] ?? (await freePort()));
  const routerPort = await portOf('ROUTER_PORT');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...infrastructureEnv(infra),
    DB_PREFIX: dbPrefix,
    // Its own queues too: stacks share one broker.
    AMQP_NAME_PREFIX: dbPrefix,
    ROUTER_PORT: String(routerPort),
    LOG_LEVEL: 'warn',
    // Every test client is 127.0.0.1 and signs up and uploads far faster than a person: the
    // per-client and per-minute budgets are raised here, and the suites that test them
    // (cost.e2e, subscriptionAbuse.e2e) set them back to what they check.
    SIGNUPS_PER_CLIENT_PER_HOUR: '10000',
    SIGNUPS_PER_HOUR: '100000',
    UPLOADS_PER_MINUTE: '10000',
    MUTATIONS_PER_MINUTE: '10000',
    MAX_WEBSOCKETS_PER_ADDRESS: '10000',
    MAX_SUBSCRIPTIONS_PER_ADDRESS: '100000',
    ...extraEnv,
  };
  const subgraphUrls: Record<string, string> = {};
  for (const { name } of SUBGRAPHS) {
    const port = await portOf(`${name.toUpperCase()}_PORT`);
    env[`${name.toUpperCase()}_PORT`] = String(port);
    subgraphUrls[name] = `http://127.0.0.1:${port}`;
  }
  const internalUrls = {} as Record<ProcessName, string>;
  for (const name of PROCESS_NAMES) {
    const port = await portOf(`${name.toUpperCase()}_INTERNAL_PORT`);
    env[`${name.toUpperCase()}_INTERNAL_PORT`] = String(port);
    internalUrls[name] = `http://127.0.0.1:${port}`;
  }

  const launcher = spawn(process.execPath, [launcherPath], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  launcher.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  launcher.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => launcher.once('exit', resolve));

  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`stack not ready:\n${output}`)), 90_000);
    const poll = setInterval(() => {
      if (output.includes('reelflux | ready:')) {
        clearInterval(poll);
        clearTimeout(timer);
        resolve();
      }
    }, 100);
    void exited.then((code) => {
      clearInterval(poll);
      clearTimeout(timer);
      reject(new Error(`launcher exited with ${code}:\n${output}`));
    });
  });

  const routerUrl = `http://127.0.0.1:${routerPort}`;
  return {
    routerUrl,
    graphqlUrl: `${routerUrl}/graphql`,
    subgraphUrls,
    internalUrls,
    env,
    launcher,
    output: () => output,
    restarts: () => output.match(/\| exited \([^)]*\); restarting in/g)?.length ?? 0,
    async stop() {
      if (launcher.exitCode === null) launcher.kill('SIGINT');
      const code = await exited;
      await dropDatabases(infra.mongodbUri, dbPrefix);
      return code;
    },
  };
}

export async function dropDatabases(mongodbUri: string, prefix: string): Promise<void> {
  const client = new MongoClient(mongodbUri);
  try {
    const { databases } = await client.db('admin').admin().listDatabases({ nameOnly: true });
    for (const { name } of databases) {
      if (name.startsWith(prefix)) await client.db(name).dropDatabase();
    }
  } finally {
    await client.close();
  }
}

/** A port free on loopback right now (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
