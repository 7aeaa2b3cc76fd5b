import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import amqp from 'amqplib';
import { MongoClient } from 'mongodb';
import { fromRoot } from '../lib/platform/projectRoot.js';
import { DEPLOY_KEYS_DIR, keyFiles } from './ensureDeployKeys.js';

// Everything local that is not ours to build (binaries, data, keys) lives under .local/.
const FERRETDB_SOURCE = fromRoot('scripts', 'ferretdb');
const FERRETDB_BIN = fromRoot('.local', 'bin', 'ferretdb');
const DEFAULT_JWT_KEY = join(DEPLOY_KEYS_DIR, keyFiles.jwtPrivateKey);
const DEFAULT_DOWNLOAD_SECRET = join(DEPLOY_KEYS_DIR, keyFiles.downloadTokenSecret);
const DEFAULT_HOP_SECRET = join(DEPLOY_KEYS_DIR, keyFiles.internalHopSecret);

export interface Infrastructure {
  mongodbUri: string;
  amqpUrl: string;
  ffmpegPath: string;
  ffprobePath: string;
  /** Set when the key comes from a file we manage; unset when JWT_PRIVATE_KEY* is configured. */
  jwtPrivateKeyFile: string | undefined;
  /** Likewise for media's download-link secret (DOWNLOAD_TOKEN_SECRET*). */
  downloadSecretFile: string | undefined;
  /** Likewise for the router-to-subgraph signature (INTERNAL_HOP_SECRET*). */
  hopSecretFile: string | undefined;
  /** Stops what this call started (FerretDB); leaves what it found running alone. */
  stop: (this: void) => Promise<void>;
}

export class MissingInfrastructureError extends Error {
  override name = 'MissingInfrastructureError';
}

type Say = (line: string) => void;

/**
 * Provides MongoDB (wire protocol), RabbitMQ, ffmpeg and a JWT signing key, using what the
 * environment names first and starting or installing only what is missing. Idempotent: a
 * second call finds everything up and returns in well under a second.
 */
export async function ensureInfrastructure(
  env: NodeJS.ProcessEnv = process.env,
  say: Say = () => {},
): Promise<Infrastructure> {
  // One after another: installing ffmpeg and building FerretDB block the event loop for
  // minutes on a fresh machine, which would time out a connection check running alongside.
  const ffmpeg = ensureFfmpeg(env, say);
  const amqpUrl = await ensureRabbitMq(env, say);
  const mongo = await ensureMongo(env, say);
  return {
    mongodbUri: mongo.uri,
    amqpUrl,
    ...ffmpeg,
    jwtPrivateKeyFile: ensureJwtKey(env, say),
    downloadSecretFile: ensureSecret(env, 'DOWNLOAD_TOKEN_SECRET', DEFAULT_DOWNLOAD_SECRET),
    hopSecretFile: ensureSecret(env, 'INTERNAL_HOP_SECRET', DEFAULT_HOP_SECRET),
    stop: mongo.stop,
  };
}

/** The variables that hand this infrastructure to the stack's processes. */
export function infrastructureEnv(infra: Omit<Infrastructure, 'stop'>): Record<string, string> {
  return {
    MONGODB_URI: infra.mongodbUri,
    AMQP_URL: infra.amqpUrl,
    FFMPEG_PATH: infra.ffmpegPath,
    FFPROBE_PATH: infra.ffprobePath,
    ...(infra.jwtPrivateKeyFile ? { JWT_PRIVATE_KEY_FILE: infra.jwtPrivateKeyFile } : {}),
    ...(infra.downloadSecretFile ? { DOWNLOAD_TOKEN_SECRET_FILE: infra.downloadSecretFile } : {}),
    ...(infra.hopSecretFile ? { INTERNAL_HOP_SECRET_FILE: infra.hopSecretFile } : {}),
  };
}

// ---------------------------------------------------------------- MongoDB / FerretDB

async function ensureMongo(
  env: NodeJS.ProcessEnv,
  say: Say,
): Promise<{ uri: string; stop: () => Promise<void> }> {
  const nothing = async () => {};
  if (env.MONGODB_URI) {
    await expectMongo(env.MONGODB_URI, 5_000, 'MONGODB_URI');
    return { uri: env.MONGODB_URI, stop: nothing };
  }
  const port = Number(env.FERRETDB_PORT ?? 27017);
  const uri = `mongodb://127.0.0.1:${port}/`;
  if (await answersMongo(uri, 1_500)) {
    say(`MongoDB: using the server already on 127.0.0.1:${port}`);
    return { uri, stop: nothing };
  }

  buildFerretDb(say);
  const handler = env.FERRETDB_HANDLER ?? 'sqlite';
  const dataDir = fromRoot('.local', 'data', 'ferretdb');
  mkdirSync(dataDir, { recursive: true });
  const args = [`--listen-addr=127.0.0.1:${port}`, `--handler=${handler}`, '--log-level=error'];
  if (handler === 'postgresql') {
    args.push(
      `--postgresql-url=${env.FERRETDB_POSTGRESQL_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'}`,
    );
  } else {
    args.push(`--sqlite-url=file:${dataDir}/`);
  }
  const child = spawn(FERRETDB_BIN, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await expectMongo(uri, 15_000, `FerretDB (${handler}) on port ${port}`);
  say(`MongoDB: started FerretDB v1.24.2 (${handler} handler) on 127.0.0.1:${port}`);
  return { uri, stop: () => stopChild(child, exited) };
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

/**
 * `go build` of one of our small Go programs (its own go.mod under scripts/) into `bin`, skipped
 * while a stamp next to the binary matches the hash of its sources.
 */
export function buildGoProgram(options: {
  source: string;
  bin: string;
  what: string;
  /** What the user can do instead when Go is missing or the build fails. */
  otherwise: string;
  say: Say;
}): void {
  const { source, bin } = options;
  const stamp = `${bin}.stamp`;
  const hash = createHash('sha256');
  for (const file of readdirSync(source).sort()) {
    if (/\.go$|^go\.(mod|sum)$/.test(file))
      hash.update(file).update(readFileSync(`${source}/${file}`));
  }
  const digest = hash.digest('hex');
  if (existsSync(bin) && existsSync(stamp) && readFileSync(stamp, 'utf8') === digest) return;
  const go = findExecutable('go', ['/usr/local/go/bin/go']);
  if (!go) {
    throw new MissingInfrastructureError(
      `${options.what} must be built but Go is not installed: install Go 1.24 or newer, or ${options.otherwise}.`,
    );
  }
  options.say(`building ${options.what} once…`);
  mkdirSync(dirname(bin), { recursive: true });
  const build = spawnSync(go, ['build', '-o', bin, '.'], {
    cwd: source,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (build.status !== 0) {
    throw new MissingInfrastructureError(
      `Building ${options.what} failed (see the Go output above): check that the Go module proxy is reachable, or ${options.otherwise}.`,
    );
  }
  writeFileSync(stamp, digest);
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

// ---------------------------------------------------------------- RabbitMQ

async function ensureRabbitMq(env: NodeJS.ProcessEnv, say: Say): Promise<string> {
  if (env.AMQP_URL) {
    await expectAmqp(env.AMQP_URL, 'AMQP_URL');
    return env.AMQP_URL;
  }
  const url = 'amqp://guest:guest@127.0.0.1:5672';
  if (await portOpen(5672)) {
    await expectAmqp(url, 'the RabbitMQ broker on 127.0.0.1:5672');
    return url;
  }
  if (!findExecutable('rabbitmq-server', ['/usr/sbin/rabbitmq-server'])) {
    aptInstall('rabbitmq-server', 'RabbitMQ', 'AMQP_URL', say);
  }
  say('RabbitMQ: starting rabbitmq-server…');
  spawnSync(
    findExecutable('rabbitmq-server', ['/usr/sbin/rabbitmq-server']) ?? 'rabbitmq-server',
    ['-detached'],
    {
      stdio: 'ignore',
    },
  );
  const deadline = Date.now() + 60_000;
  while (!(await portOpen(5672))) {
    if (Date.now() > deadline) {
      throw new MissingInfrastructureError(
        'rabbitmq-server did not start listening on 5672 within 60 s: start it by hand or set AMQP_URL.',
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  await expectAmqp(url, 'the RabbitMQ broker we started');
  return url;
}

async function expectAmqp(url: string, what: string): Promise<void> {
  // The port opens before the broker accepts logins; give it a few tries.
  for (let attempt = 1; ; attempt++) {
    try {
      const connection = await amqp.connect(url, { timeout: 5_000 });
      await connection.close();
      return;
    } catch (error) {
      if (attempt >= 20) {
        throw new MissingInfrastructureError(
          `${what} refuses AMQP connections (${(error as Error).message}): fix the broker or AMQP_URL.`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
  }
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, timeout: 1_000 });
    const settle = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.once('connect', () => settle(true));
    socket.once('error', () => settle(false));
    socket.once('timeout', () => settle(false));
  });
}

// ---------------------------------------------------------------- ffmpeg

function ensureFfmpeg(
  env: NodeJS.ProcessEnv,
  say: Say,
): { ffmpegPath: string; ffprobePath: string } {
  const configured = { ffmpegPath: env.FFMPEG_PATH, ffprobePath: env.FFPROBE_PATH };
  let ffmpegPath = configured.ffmpegPath ?? findExecutable('ffmpeg', []);
  let ffprobePath = configured.ffprobePath ?? findExecutable('ffprobe', []);
  if (!ffmpegPath || !ffprobePath) {
    aptInstall('ffmpeg', 'FFmpeg', 'FFMPEG_PATH and FFPROBE_PATH', say);
    ffmpegPath ??= findExecutable('ffmpeg', []);
    ffprobePath ??= findExecutable('ffprobe', []);
  }
  for (const [name, path] of [
    ['FFMPEG_PATH', ffmpegPath],
    ['FFPROBE_PATH', ffprobePath],
  ] as const) {
    if (!path || spawnSync(path, ['-version'], { stdio: 'ignore' }).status !== 0) {
      throw new MissingInfrastructureError(
        `${name} does not point at a working program (${path ?? 'not found'}).`,
      );
    }
  }
  return { ffmpegPath: ffmpegPath as string, ffprobePath: ffprobePath as string };
}

// ---------------------------------------------------------------- JWT key

/** Local runs sign with an Ed25519 key generated once into .local/keys (mode 0600). */
function ensureJwtKey(env: NodeJS.ProcessEnv, say: Say): string | undefined {
  if (env.JWT_PRIVATE_KEY) return undefined;
  const file = env.JWT_PRIVATE_KEY_FILE ?? DEFAULT_JWT_KEY;
  if (existsSync(file)) return file;
  if (env.JWT_PRIVATE_KEY_FILE) {
    throw new MissingInfrastructureError(
      `JWT_PRIVATE_KEY_FILE names ${file}, which does not exist.`,
    );
  }
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const { privateKey } = generateKeyPairSync('ed25519');
  writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  say(`JWT: generated a signing key in ${file}`);
  return file;
}

/**
 * A random secret kept in .local/keys (mode 0600) for `name` (media's download links, the
 * router's signature), unless the environment gives one.
 */
function ensureSecret(env: NodeJS.ProcessEnv, name: string, fallback: string): string | undefined {
  if (env[name]) return undefined;
  const file = env[`${name}_FILE`] ?? fallback;
  if (existsSync(file)) return file;
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, randomBytes(48).toString('base64url'), { mode: 0o600 });
  return file;
}

// ---------------------------------------------------------------- helpers

export function findExecutable(name: string, extra: readonly string[]): string | undefined {
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  if (found.status === 0 && found.stdout.trim()) return found.stdout.trim();
  return extra.find((path) => existsSync(path));
}

function aptInstall(pkg: string, what: string, variable: string, say: Say): void {
  const canApt = process.getuid?.() === 0 && findExecutable('apt-get', []);
  if (!canApt) {
    throw new MissingInfrastructureError(
      `${what} is missing: install Debian's ${pkg} package (apt-get install ${pkg}) or set ${variable}.`,
    );
  }
  say(`${what}: installing Debian's ${pkg} package…`);
  const apt = (args: string[]) =>
    spawnSync('apt-get', args, {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    }).status;
  if (
    apt(['install', '-y', '-qq', pkg]) !== 0 &&
    (apt(['update', '-qq']) !== 0 || apt(['install', '-y', '-qq', pkg]) !== 0)
  ) {
    throw new MissingInfrastructureError(
      `apt-get could not install ${pkg}: install it by hand or set ${variable}.`,
    );
  }
}

async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

function redact(uri: string): string {
  return uri.replace(/\/\/[^@/]*@/, '//***@');
}
