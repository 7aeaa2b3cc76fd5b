import {
  containerOf,
  describeShipping,
  getObject,
  secretKeyAt,
  type Workload,
} from './helpers/deployManifests.js';
import { STORAGE_RESERVATIONS } from '../lib/stores/storageQuota.js';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { fromRoot } from '../lib/platform/projectRoot.js';
import { BROKER_ROLES, brokerPermissions, topologyNames } from '../lib/broker/topology.js';
import {
  AUDIO_BUCKET,
  UPLOADS_IN_PROGRESS,
  VIDEO_BUCKET,
  VIDEO_RECORDS,
} from '../lib/stores/gridfs.js';
import { serviceDatabaseName } from '../lib/platform/mongo.js';
import { DATABASE_USERS, ensureDeployKeys, keyFiles } from '../scripts/ensureDeployKeys.js';

/** Offline: the keys `npm run deploy:keys` writes, and the MongoDB users script. */
describeShipping('keys, passwords and database users', ({ rendered }) => {
  it('gets every key and password it mounts from `npm run deploy:keys`, broker users included', () => {
    const dir = mkdtempSync(join(tmpdir(), 'reelflux-keys-'));
    ensureDeployKeys(dir);
    ensureDeployKeys(dir); // a second run keeps every password
    const written = readdirSync(dir).sort();
    const mounted = new Set<string>();
    const collect = (node: unknown): void => {
      if (typeof node !== 'object' || node === null) return;
      const volume = node as { secretName?: string; items?: { key: string }[] };
      if (volume.secretName === 'reelflux-keys')
        for (const item of volume.items ?? []) mounted.add(item.key);
      for (const child of Object.values(node)) collect(child);
    };
    for (const objects of rendered.values()) collect(objects);
    // Kubernetes mounts each key by name from the one Secret made of the directory.
    expect(mounted).toContain(keyFiles.mongodbPassword('worker'));
    expect(written).toEqual(expect.arrayContaining([...mounted]));
    const compose = parseYaml(readFileSync(fromRoot('docker-compose.yml'), 'utf8')) as {
      secrets: Record<string, { file: string }>;
    };
    for (const [name, { file }] of Object.entries(compose.secrets)) {
      expect(basename(file)).toBe(name);
      mounted.add(name);
    }
    expect(mounted).toContain(keyFiles.rabbitmqDefinitions);
    expect(written).toEqual(expect.arrayContaining([...mounted]));

    const definitions = JSON.parse(
      readFileSync(join(dir, keyFiles.rabbitmqDefinitions), 'utf8'),
    ) as {
      users: { name: string }[];
      permissions: Record<string, string>[];
      topic_permissions: Record<string, string>[];
    };
    expect(definitions.users.map((u) => u.name)).toEqual(['admin', 'keda', ...BROKER_ROLES]);
    const permissions = brokerPermissions(topologyNames());
    for (const role of BROKER_ROLES) {
      const { configure, write, read, publishes } = permissions[role];
      expect(definitions.permissions.find((p) => p.user === role)).toEqual({
        user: role,
        vhost: '/',
        configure,
        write,
        read,
      });
      expect(definitions.topic_permissions.find((p) => p.user === role)?.write).toBe(publishes);
    }
  });

  it("gives MongoDB one user per service, limited to that service's database", () => {
    const script = readFileSync(fromRoot('k8s', 'base', 'mongodb-users.js'), 'utf8');
    const users: { user: string; pwd: string; roles: { role: string; db: string }[] }[] = [];
    const roles: {
      role: string;
      privileges: { resource: { db: string; collection: string }; actions: string[] }[];
    }[] = [];
    const admin = {
      createUser: (user: (typeof users)[number]) => users.push(user),
      createRole: (role: (typeof roles)[number]) => roles.push(role),
    };
    runInNewContext(script, {
      db: { getSiblingDB: (name: string) => (name === 'admin' ? admin : undefined) },
      process: { env: {} },
      require: (module: string) => ({
        readFileSync: (path: string) => {
          expect(module).toBe('fs');
          return `password of ${basename(path)}\n`;
        },
      }),
    });
    const db = (service: string) => serviceDatabaseName('reelflux_', service);
    expect(users.map((u) => u.user).sort()).toEqual([...DATABASE_USERS].sort());
    for (const user of users) {
      expect(user.pwd).toBe(`password of ${keyFiles.mongodbPassword(user.user)}`);
      if (user.user === 'worker') continue;
      expect(user.roles).toEqual([{ role: 'readWrite', db: db(user.user) }]);
    }
    // The script reads each password where MongoDB's pods and compose's mongo mount them.
    const passwords = ['root', ...DATABASE_USERS].map((user) => keyFiles.mongodbPassword(user));
    for (const [overlay, objects] of rendered) {
      const mongodb = getObject<Workload>(objects, 'StatefulSet', 'mongodb');
      const container = containerOf(mongodb, 'mongodb');
      for (const file of passwords) {
        expect(secretKeyAt(mongodb, container, `/run/secrets/${file}`), overlay).toBe(file);
      }
    }
    const compose = parseYaml(readFileSync(fromRoot('docker-compose.yml'), 'utf8')) as {
      services: { mongo: { secrets: string[] } };
    };
    expect(compose.services.mongo.secrets).toEqual(expect.arrayContaining(passwords));
    // The worker: its own role, on exactly the collections createJobHandler touches.
    const worker = users.find((u) => u.user === 'worker');
    expect(worker?.roles).toEqual([{ role: 'reelfluxWorker', db: 'admin' }]);
    const privileges = roles.find((r) => r.role === 'reelfluxWorker')?.privileges ?? [];
    expect(privileges.map((p) => `${p.resource.db}.${p.resource.collection}`).sort()).toEqual(
      [
        `${db('conversion')}.conversions`,
        `${db('media')}.${AUDIO_BUCKET}.chunks`,
        `${db('media')}.${AUDIO_BUCKET}.files`,
        `${db('media')}.${VIDEO_BUCKET}.chunks`,
        `${db('media')}.${VIDEO_BUCKET}.files`,
        `${db('media')}.${UPLOADS_IN_PROGRESS}`,
        `${db('media')}.${VIDEO_RECORDS}`,
        `${db('media')}.${STORAGE_RESERVATIONS}`,
      ].sort(),
    );
    for (const { resource, actions } of privileges) {
      // What it reads of media's uploads, it may only read.
      const writes = [AUDIO_BUCKET, 'conversions', STORAGE_RESERVATIONS];
      if (!writes.some((name) => resource.collection.startsWith(name))) {
        expect(actions).toEqual(['find']);
      }
      expect(actions).not.toContain('dropCollection');
    }
  });
});
