import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { ConfigMap, Namespace, Service } from 'kubernetes-models/v1';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { Ingress, NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { fromRoot } from '../lib/platform/projectRoot.js';
import { ConfigError } from '../lib/platform/readEnv.js';
import { SUBGRAPHS } from '../lib/contracts/subgraphs.js';
import { BROKER_ROLES, brokerPermissions, topologyNames } from '../lib/broker/topology.js';
import {
  AUDIO_BUCKET,
  UPLOADS_IN_PROGRESS,
  VIDEO_BUCKET,
  VIDEO_RECORDS,
} from '../lib/stores/gridfs.js';
import { serviceDatabaseName } from '../lib/platform/mongo.js';
import { loadRouterConfig } from '../router/config.js';
import { DATABASE_USERS, ensureDeployKeys, keyFiles } from '../scripts/ensureDeployKeys.js';
import { ensureManifestTools, type ManifestTools } from '../scripts/ensureManifestTools.js';
import { loadAuthConfig } from '../subgraphs/auth/config.js';
import { loadConversionConfig } from '../subgraphs/conversion/config.js';
import { loadMediaConfig } from '../subgraphs/media/config.js';
import { loadWorkerConfig } from '../worker/config.js';

/**
 * Offline checks of what ships: kustomize renders every overlay, every object validates against
 * the Kubernetes OpenAPI schemas bundled in kubernetes-models, and the manifests, the compose
 * file and the Dockerfile agree with the code (variables, ports, probes, images, processes).
 */

type K8sObject = { apiVersion: string; kind: string; metadata: { name: string } } & Record<
  string,
  unknown
>;

/** One validator per kind we ship; a new kind fails the test until it is added here. */
const VALIDATORS: Record<string, (object: K8sObject) => void> = {
  'v1/Namespace': (o) => new Namespace(o).validate(),
  'v1/ConfigMap': (o) => new ConfigMap(o).validate(),
  'v1/Service': (o) => new Service(o).validate(),
  'apps/v1/Deployment': (o) => new Deployment(o).validate(),
  'apps/v1/StatefulSet': (o) => new StatefulSet(o).validate(),
  'autoscaling/v2/HorizontalPodAutoscaler': (o) =>
    new HorizontalPodAutoscaler(o as never).validate(),
  'networking.k8s.io/v1/Ingress': (o) => new Ingress(o).validate(),
  'networking.k8s.io/v1/NetworkPolicy': (o) => new NetworkPolicy(o).validate(),
  'policy/v1/PodDisruptionBudget': (o) => new PodDisruptionBudget(o).validate(),
};

/** Each process, the config module that must accept its environment, and where it listens. */
const PROCESSES = {
  router: { load: loadRouterConfig, port: 4000 },
  auth: { load: loadAuthConfig, port: 4001 },
  media: { load: loadMediaConfig, port: 4002 },
  conversion: { load: loadConversionConfig, port: 4003 },
  worker: { load: loadWorkerConfig, port: 4010 },
} as const;
type ProcessName = keyof typeof PROCESSES;
const isProcess = (name: string): name is ProcessName => name in PROCESSES;

interface Container {
  name: string;
  image: string;
  args?: string[];
  env?: { name: string; value?: string; valueFrom?: unknown }[];
  envFrom?: { configMapRef?: { name: string } }[];
  ports?: { name: string; containerPort: number }[];
  readinessProbe?: { httpGet?: { path: string; port: string | number } };
  livenessProbe?: { httpGet?: { path: string; port: string | number } };
  volumeMounts?: { name: string; mountPath: string }[];
}

/** Stand-ins for the secrets, so config modules can read real files of the right shape. */
const secretsDir = mkdtempSync(join(tmpdir(), 'reelflux-deploy-'));
const fakeKey = join(secretsDir, 'jwt-private-key');
const fakeSecret = join(secretsDir, 'download-token-secret');
writeFileSync(
  fakeKey,
  generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }),
);
writeFileSync(fakeSecret, randomBytes(32).toString('hex'));
const standIn = (path: string) => (path.endsWith(keyFiles.jwtPrivateKey) ? fakeKey : fakeSecret);
const standInSecret = readFileSync(fakeSecret, 'utf8');

/** Every process connects to the broker and the database as a user of its own name. */
function expectOwnUsers(where: string, name: string, config: unknown): void {
  const { amqpUrl, mongodbUri } = config as { amqpUrl?: string; mongodbUri?: string };
  for (const url of [amqpUrl, mongodbUri]) {
    if (url === undefined) continue;
    expect(url, where).toMatch(new RegExp(`^\\w+://${name}:${standInSecret}@`));
  }
  expect(amqpUrl !== undefined, `${where} uses the broker`).toBe(
    (BROKER_ROLES as readonly string[]).includes(name),
  );
  expect(mongodbUri !== undefined, `${where} uses the database`).toBe(
    (DATABASE_USERS as readonly string[]).includes(name),
  );
}

/** Loads a process's config from an environment, with secret files replaced by stand-ins. */
function loadWith(process: ProcessName, env: Record<string, string>): unknown {
  const withFiles = Object.fromEntries(
    Object.entries(env).map(([name, value]) => [
      name,
      name.endsWith('_FILE') ? standIn(value) : value,
    ]),
  );
  return PROCESSES[process].load(withFiles);
}

describe('shipping: Kubernetes manifests, docker-compose and the Dockerfile', () => {
  const overlays = readdirSync(fromRoot('k8s', 'overlays'));
  const rendered = new Map<string, K8sObject[]>();
  let tools: ManifestTools;

  beforeAll(() => {
    tools = ensureManifestTools((line) => process.stdout.write(`${line}\n`));
    for (const overlay of ['base', ...overlays.map((o) => `overlays/${o}`)]) {
      const yaml = execFileSync(tools.kustomize, ['build', fromRoot('k8s', overlay)], {
        encoding: 'utf8',
      });
      rendered.set(
        overlay,
        parseAllDocuments(yaml).map((doc) => doc.toJS() as K8sObject),
      );
    }
  }, 300_000);

  it('kustomize builds the base and every overlay', () => {
    expect(overlays).toContain('minikube');
    for (const [overlay, objects] of rendered) {
      expect(objects.length, overlay).toBeGreaterThan(20);
    }
  });

  it('every rendered object validates against the Kubernetes OpenAPI schema', () => {
    const problems: string[] = [];
    for (const [overlay, objects] of rendered) {
      for (const object of objects) {
        const key = `${object.apiVersion}/${object.kind}`;
        const validate = VALIDATORS[key];
        if (!validate) {
          problems.push(`${overlay}: no validator for ${key}`);
          continue;
        }
        try {
          validate(object);
        } catch (error) {
          problems.push(`${overlay}: ${key} ${object.metadata.name}: ${(error as Error).message}`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('gives each process the variables its config requires, its port, probes and image', () => {
    for (const [overlay, objects] of rendered) {
      const configMap = objects.find(
        (o) => o.kind === 'ConfigMap' && o.metadata.name === 'reelflux-config',
      ) as (K8sObject & { data: Record<string, string> }) | undefined;
      const deployments = objects.filter((o) => o.kind === 'Deployment');
      expect(deployments.map((d) => d.metadata.name).sort(), overlay).toEqual(
        Object.keys(PROCESSES).sort(),
      );
      for (const deployment of deployments) {
        const name = deployment.metadata.name;
        const spec = deployment.spec as {
          template: {
            spec: {
              containers: Container[];
              volumes?: { name: string; secret?: { items?: { key: string; path: string }[] } }[];
            };
          };
        };
        const [container] = spec.template.spec.containers;
        if (!container || !isProcess(name)) throw new Error(`${overlay}: ${name} has no container`);
        const where = `${overlay}: ${name}`;
        expect(container.image, where).toBe('reelflux:latest');
        expect(container.args, where).toEqual([name]);

        // The environment Kubernetes would give the container: the ConfigMap, then `env`
        // with $(VAR) references expanded; secrets get stand-in values.
        const env: Record<string, string> = {};
        for (const source of container.envFrom ?? []) {
          expect(source.configMapRef?.name, where).toBe(configMap?.metadata.name);
          Object.assign(env, configMap?.data);
        }
        for (const variable of container.env ?? []) {
          env[variable.name] =
            variable.value?.replace(/\$\((\w+)\)/g, (_, ref: string) => env[ref] ?? '') ??
            'stand-in-secret';
        }
        // *_FILE paths must be inside a mounted secret that holds that key.
        for (const [variable, path] of Object.entries(env)) {
          if (!variable.endsWith('_FILE')) continue;
          const mount = container.volumeMounts?.find((m) => path.startsWith(`${m.mountPath}/`));
          const volume = spec.template.spec.volumes?.find((v) => v.name === mount?.name);
          const key = path.slice((mount?.mountPath.length ?? 0) + 1);
          expect(
            volume?.secret?.items?.map((item) => item.path),
            `${where} ${variable}`,
          ).toContain(key);
        }
        expect(() => loadWith(name, env), where).not.toThrow(ConfigError);
        const config = loadWith(name, env) as { port: number };
        expectOwnUsers(where, name, config);
        expect(container.ports?.[0], where).toEqual({ name: 'http', containerPort: config.port });
        expect(config.port, where).toBe(PROCESSES[name].port);
        const service = objects.find((o) => o.kind === 'Service' && o.metadata.name === name) as
          | (K8sObject & {
              spec: {
                selector: Record<string, string>;
                ports: { port: number; targetPort: string }[];
              };
            })
          | undefined;
        expect(service?.spec.selector, `${where} service`).toEqual({
          'app.kubernetes.io/name': name,
        });
        expect(service?.spec.ports[0], `${where} service`).toMatchObject({
          port: config.port,
          targetPort: 'http',
        });
        expect(container.readinessProbe?.httpGet, where).toEqual({ path: '/readyz', port: 'http' });
        expect(container.livenessProbe?.httpGet, where).toEqual({ path: '/healthz', port: 'http' });
      }

      // Each <NAME>_URL names a Service of that subgraph on its port.
      for (const { name, defaultPort } of SUBGRAPHS) {
        const url = new URL(configMap?.data[`${name.toUpperCase()}_URL`] ?? 'http://missing');
        const service = objects.find(
          (o) => o.kind === 'Service' && o.metadata.name === url.hostname,
        ) as (K8sObject & { spec: { ports: { port: number }[] } }) | undefined;
        expect(service?.spec.ports[0]?.port, `${overlay}: ${name} service`).toBe(defaultPort);
        expect(Number(url.port), `${overlay}: ${name} url`).toBe(defaultPort);
      }
      // MongoDB and RabbitMQ as the variables name them.
      const hosts = objects.filter((o) => o.kind === 'Service').map((o) => o.metadata.name);
      expect(hosts, overlay).toEqual(expect.arrayContaining(['mongodb', 'rabbitmq', 'router']));
    }
  });

  it('scales workers on the queue the code names, and drains them within the grace period', () => {
    const autoscaling = readFileSync(fromRoot('k8s', 'base', 'autoscaling.yaml'), 'utf8');
    expect(autoscaling).toContain(`queueName: ${topologyNames().queues.jobs}`);
    const worker = rendered
      .get('base')
      ?.find((o) => o.kind === 'Deployment' && o.metadata.name === 'worker') as
      | {
          spec: {
            template: { spec: { terminationGracePeriodSeconds: number; containers: Container[] } };
          };
        }
      | undefined;
    const spec = worker?.spec.template.spec;
    const drain = Number(
      spec?.containers[0]?.env?.find((e) => e.name === 'WORKER_DRAIN_SECONDS')?.value,
    );
    expect(drain).toBeGreaterThan(0);
    expect(spec?.terminationGracePeriodSeconds).toBeGreaterThan(drain + 10);
  });

  it('runs the same processes, variables and ports in docker-compose.yml', () => {
    const compose = parseYaml(readFileSync(fromRoot('docker-compose.yml'), 'utf8'), {
      merge: true,
    }) as {
      services: Record<
        string,
        {
          image?: string;
          command?: string[];
          environment?: Record<string, string>;
          ports?: string[];
          healthcheck?: unknown;
          depends_on?: Record<string, { condition: string }>;
          secrets?: string[];
          deploy?: { replicas?: number };
        }
      >;
      secrets: Record<string, { file: string }>;
    };
    const names = Object.keys(compose.services);
    expect(names).toEqual(expect.arrayContaining([...Object.keys(PROCESSES), 'mongo', 'rabbitmq']));
    expect(compose.services.mongo?.image).toBe('mongo:7');
    expect(compose.services.rabbitmq?.image).toBe('rabbitmq:3-management');
    for (const infra of ['mongo', 'rabbitmq'])
      expect(compose.services[infra]?.healthcheck).toBeDefined();
    expect(compose.services.worker?.deploy?.replicas).toBe(2);
    expect(compose.services.router?.ports).toContain('4000:4000');
    for (const name of Object.keys(PROCESSES)) {
      if (!isProcess(name)) continue;
      const service = compose.services[name];
      expect(service?.command, name).toEqual([name]);
      expect(service?.image, name).toBe('reelflux:latest');
      expect(
        Object.values(service?.depends_on ?? {}).every((d) => d.condition === 'service_healthy'),
        name,
      ).toBe(true);
      const env = Object.fromEntries(
        Object.entries(service?.environment ?? {}).map(([k, v]) => [
          k,
          String(v).replace(/\$\{(\w+):-([^}]*)\}/g, '$2'),
        ]),
      );
      for (const [variable, path] of Object.entries(env)) {
        if (!variable.endsWith('_FILE')) continue;
        const secret = path.replace('/run/secrets/', '');
        expect(service?.secrets, `${name} ${variable}`).toContain(secret);
        expect(compose.secrets[secret]?.file, `${name} ${variable}`).toMatch(
          /^\.\/\.local\/keys\//,
        );
      }
      expect(() => loadWith(name, env), name).not.toThrow(ConfigError);
      expectOwnUsers(name, name, loadWith(name, env));
    }
  });

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
    expect(definitions.users.map((u) => u.name)).toEqual(['admin', ...BROKER_ROLES]);
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
      ].sort(),
    );
    for (const { resource, actions } of privileges) {
      // What it reads of media's uploads, it may only read.
      if (!resource.collection.startsWith(AUDIO_BUCKET) && resource.collection !== 'conversions') {
        expect(actions).toEqual(['find']);
      }
      expect(actions).not.toContain('dropCollection');
    }
  });

  it('builds one non-root image whose entry point runs each process', () => {
    const dockerfile = readFileSync(fromRoot('Dockerfile'), 'utf8');
    const entrypoint = readFileSync(fromRoot('scripts', 'container-entrypoint.sh'), 'utf8');
    const ignored = readFileSync(fromRoot('.dockerignore'), 'utf8').split('\n');
    expect(dockerfile).toMatch(/^FROM \S+ AS build$/m);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK /m);
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
    expect(dockerfile).toMatch(/apt-get install .*ffmpeg/);
    const exposed = /^EXPOSE (.+)$/m.exec(dockerfile)?.[1]?.split(' ').map(Number);
    expect(exposed?.sort()).toEqual(
      Object.values(PROCESSES)
        .map((p) => p.port)
        .sort(),
    );
    for (const name of Object.keys(PROCESSES))
      expect(entrypoint).toMatch(new RegExp(`\\b${name}\\b`));
    // Every path the entry point runs is one the build compiles.
    for (const [, path] of entrypoint.matchAll(/exec node "?([^"\s]+)"?/g)) {
      expect(path).toMatch(/^dist\/(router|worker|subgraphs\/\$1)\/main\.js$/);
    }
    expect(ignored).toEqual(
      expect.arrayContaining(['node_modules', 'dist', '.local', 'tests', '.git']),
    );
    execFileSync('sh', ['-n', fromRoot('scripts', 'container-entrypoint.sh')]);
  });

  it("passes the Compose specification loader and BuildKit's Dockerfile linter", () => {
    // No Docker engine here: these are the same Go libraries `docker compose` and
    // `docker build` use to read the files (scripts/manifestcheck).
    const output = execFileSync(tools.manifestcheck, [fromRoot()], { encoding: 'utf8' });
    expect(output).toContain('docker-compose.yml: 7 services');
    expect(output).toContain('Dockerfile: 2 stages');
  });
});
