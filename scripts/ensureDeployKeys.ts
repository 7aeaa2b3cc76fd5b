import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { fromRoot } from '../lib/platform/projectRoot.js';
import {
  BROKER_ROLES,
  brokerPermissions,
  topologyNames,
  type BrokerPermissions,
} from '../lib/broker/topology.js';

/** Where every key and password lives, one file each; `.local/` is never committed. */
export const DEPLOY_KEYS_DIR = fromRoot('.local', 'keys');

/** The services with a MongoDB user of their own (the router keeps no data). */
export const DATABASE_USERS = ['auth', 'media', 'conversion', 'notification', 'worker'] as const;

/** File names double as the keys of the Kubernetes Secret and the names of compose secrets. */
export const keyFiles = {
  jwtPrivateKey: 'jwt-ed25519.pem',
  downloadTokenSecret: 'download-token.secret',
  internalHopSecret: 'internal-hop.secret',
  /** The notification service's browser-push (VAPID) key is derived from it. */
  vapidSecret: 'vapid.secret',
  rabbitmqDefinitions: 'rabbitmq-definitions.json',
  rabbitmqPassword: (user: string) => `rabbitmq-${user}.password`,
  mongodbPassword: (user: string) => `mongodb-${user}.password`,
  /** The production overlay's replica set: how its members authenticate to each other. */
  mongodbReplicaSetKey: 'mongodb-replica-set.key',
  /** The production overlay's RabbitMQ cluster: the Erlang cookie its nodes share. */
  rabbitmqErlangCookie: 'rabbitmq-erlang.cookie',
} as const;

/** A new Ed25519 signing key for auth's JWTs, PKCS#8 PEM. */
export const newJwtPrivateKey = () =>
  generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

/** A new HMAC secret (download links, the router's signature): 48 random bytes. */
export const newSecret = () => randomBytes(48).toString('base64url');

/**
 * RabbitMQ's `rabbit_password_hashing_sha256`: a 4-byte salt, then SHA-256 of salt and
 * password, base64. Lets the definitions file carry hashes, never the passwords.
 */
export function rabbitmqPasswordHash(password: string, salt = randomBytes(4)): string {
  const digest = createHash('sha256').update(salt).update(password, 'utf8').digest();
  return Buffer.concat([salt, digest]).toString('base64');
}

export interface BrokerUser {
  name: string;
  password: string;
  permissions: BrokerPermissions;
  tags?: string[];
}

/**
 * A RabbitMQ definitions document: one vhost, its users, their permissions, and the routing
 * keys each may publish on the events exchange.
 */
export function brokerDefinitions(vhost: string, exchange: string, users: readonly BrokerUser[]) {
  return {
    vhosts: [{ name: vhost }],
    users: users.map((user) => ({
      name: user.name,
      password_hash: rabbitmqPasswordHash(user.password),
      hashing_algorithm: 'rabbit_password_hashing_sha256',
      tags: user.tags ?? [],
    })),
    permissions: users.map(({ name, permissions: { configure, write, read } }) => ({
      user: name,
      vhost,
      configure,
      write,
      read,
    })),
    topic_permissions: users.flatMap(({ name, permissions: { publishes } }) =>
      publishes === undefined
        ? []
        : [{ user: name, vhost, exchange, write: publishes, read: '.*' }],
    ),
  };
}

/** Everything may be done by `admin`: the operator's user, for fsck and the management UI. */
const EVERYTHING: BrokerPermissions = { configure: '.*', write: '.*', read: '.*' };
/**
 * Nothing on the vhost's queues and exchanges: `keda`, tagged `monitoring`, reads queue depths
 * through the management API and can neither publish nor consume. The management API lists a
 * vhost's queues only to users with an entry on it, hence an entry that grants nothing.
 */
const NOTHING: BrokerPermissions = { configure: '^$', write: '^$', read: '^$' };

/**
 * Makes what compose and Kubernetes mount, once: the JWT key, the two HMAC secrets, a password
 * per broker and database user, and RabbitMQ's definitions (one user per process, with only
 * the permissions `brokerPermissions` grants it), which are written again on every run so they
 * follow the topology. Existing keys are kept: running it twice changes no password.
 */
export function ensureDeployKeys(
  dir = DEPLOY_KEYS_DIR,
  say: (line: string) => void = () => {},
): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const keep = (file: string, make: () => string | Buffer) => {
    const path = join(dir, file);
    if (!existsSync(path)) {
      writeFileSync(path, make(), { mode: 0o600 });
      say(`generated ${path}`);
    }
    return readFileSync(path, 'utf8').trim();
  };
  // Hex: safe inside a URL, so a password never needs escaping in AMQP_URL or MONGODB_URI.
  const password = () => randomBytes(24).toString('hex');
  keep(keyFiles.jwtPrivateKey, newJwtPrivateKey);
  keep(keyFiles.downloadTokenSecret, newSecret);
  keep(keyFiles.internalHopSecret, newSecret);
  keep(keyFiles.vapidSecret, newSecret);
  keep(keyFiles.mongodbPassword('root'), password);
  for (const user of DATABASE_USERS) keep(keyFiles.mongodbPassword(user), password);
  // A key file is 6–1,024 base64 characters; a cookie, letters and digits on one line.
  keep(keyFiles.mongodbReplicaSetKey, () => randomBytes(756).toString('base64'));
  keep(keyFiles.rabbitmqErlangCookie, () => randomBytes(32).toString('hex'));

  const names = topologyNames();
  const permissions = brokerPermissions(names);
  const users: BrokerUser[] = [
    {
      name: 'admin',
      password: keep(keyFiles.rabbitmqPassword('admin'), password),
      permissions: EVERYTHING,
      tags: ['administrator'],
    },
    {
      name: 'keda',
      password: keep(keyFiles.rabbitmqPassword('keda'), password),
      permissions: NOTHING,
      tags: ['monitoring'],
    },
    ...BROKER_ROLES.map((role) => ({
      name: role,
      password: keep(keyFiles.rabbitmqPassword(role), password),
      permissions: permissions[role],
    })),
  ];
  const definitions = join(dir, keyFiles.rabbitmqDefinitions);
  writeFileSync(
    definitions,
    `${JSON.stringify(brokerDefinitions('/', names.exchange, users), null, 2)}\n`,
    {
      mode: 0o600,
    },
  );
  say(`wrote ${definitions}`);
}

// `npm run deploy:keys`
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  ensureDeployKeys(DEPLOY_KEYS_DIR, (line) => process.stdout.write(`${line}\n`));
}
