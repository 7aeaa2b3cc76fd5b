import { STORAGE_RESERVATIONS } from '../lib/stores/storageQuota.js';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { runInNewContext } from 'node:vm';
import { ConfigMap, Namespace, Service } from 'kubernetes-models/v1';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { Ingress, NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ScaledObject, TriggerAuthentication } from '@kubernetes-models/keda/keda.sh/v1alpha1';
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

type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
} & Record<string, unknown>;

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
  'keda.sh/v1alpha1/ScaledObject': (o) => new ScaledObject(o as never).validate(),
  'keda.sh/v1alpha1/TriggerAuthentication': (o) => new TriggerAuthentication(o as never).validate(),
};

/**
 * Each process, the config module that must accept its environment, and where it listens: its
 * public port (none for the worker) and its internal one (health, readiness, metrics).
 */
const PROCESSES = {
  router: { load: loadRouterConfig, port: 4000, internalPort: 9400 },
  auth: { load: loadAuthConfig, port: 4001, internalPort: 9401 },
  media: { load: loadMediaConfig, port: 4002, internalPort: 9402 },
  conversion: { load: loadConversionConfig, port: 4003, internalPort: 9403 },
  worker: { load: loadWorkerConfig, port: undefined, internalPort: 9410 },
} as const;
type ProcessName = keyof typeof PROCESSES;
const isProcess = (name: string): name is ProcessName => name in PROCESSES;

interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: { name: string; value?: string; valueFrom?: unknown }[];
  envFrom?: { configMapRef?: { name: string } }[];
  ports?: { name: string; containerPort: number }[];
  readinessProbe?: { httpGet?: { path: string; port: string | number } };
  livenessProbe?: { httpGet?: { path: string; port: string | number } };
  volumeMounts?: { name: string; mountPath: string; subPath?: string }[];
  resources?: { requests?: Record<string, string> };
}

/**
 * The environment Kubernetes would give a container: the ConfigMaps it names, then `env` with
 * $(VAR) references expanded; values from secrets get a stand-in.
 */
function containerEnv(objects: K8sObject[], container: Container): Record<string, string> {
  const env: Record<string, string> = {};
  for (const source of container.envFrom ?? []) {
    const name = source.configMapRef?.name ?? '';
    Object.assign(
      env,
      getObject<{ data: Record<string, string> }>(objects, 'ConfigMap', name).data,
    );
  }
  for (const variable of container.env ?? []) {
    env[variable.name] =
      variable.value?.replace(/\$\((\w+)\)/g, (_, ref: string) => env[ref] ?? '') ??
      'stand-in-secret';
  }
  return env;
}

interface PolicyPeer {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: { cidr: string };
}
interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}
type NetworkPolicyObject = K8sObject & {
  spec: {
    podSelector: LabelSelector;
    policyTypes: string[];
    ingress?: { from?: PolicyPeer[]; ports?: { port: number | string; protocol?: string }[] }[];
    egress?: { to?: PolicyPeer[]; ports?: { port: number | string; protocol?: string }[] }[];
  };
};

/** Whether a label selector (matchLabels, and matchExpressions with In) selects `labels`. */
function selects(selector: LabelSelector, labels: Record<string, string>): boolean {
  const byLabels = Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
  const byExpressions = (selector.matchExpressions ?? []).every((e) => {
    if (e.operator !== 'In') throw new Error(`selector operator ${e.operator} not checked here`);
    return e.values?.includes(labels[e.key] ?? '') ?? false;
  });
  return byLabels && byExpressions;
}

/** The NetworkPolicies of an overlay that apply to pods with `labels`, for `type`. */
function policiesFor(
  objects: K8sObject[],
  labels: Record<string, string>,
  type: 'Ingress' | 'Egress',
): NetworkPolicyObject[] {
  return (objects.filter((o) => o.kind === 'NetworkPolicy') as NetworkPolicyObject[]).filter(
    (p) => p.spec.policyTypes.includes(type) && selects(p.spec.podSelector, labels),
  );
}

/**
 * Where pods with `labels` may connect, as `<app>:<port>` for pods of this namespace by their
 * `app.kubernetes.io/name`, `dns` for the cluster's DNS, or `anywhere`/`ip:<cidr>`.
 */
function egressOf(objects: K8sObject[], labels: Record<string, string>): string[] {
  const allowed = new Set<string>();
  for (const policy of policiesFor(objects, labels, 'Egress')) {
    for (const rule of policy.spec.egress ?? []) {
      const ports = (rule.ports ?? []).map((p) => String(p.port));
      for (const peer of rule.to ?? [{}]) {
        if (peer.ipBlock) allowed.add(`ip:${peer.ipBlock.cidr}`);
        else if (peer.namespaceSelector) {
          const dns =
            peer.namespaceSelector.matchLabels?.['kubernetes.io/metadata.name'] === 'kube-system' &&
            peer.podSelector?.matchLabels?.['k8s-app'] === 'kube-dns' &&
            ports.every((port) => port === '53');
          allowed.add(dns ? 'dns' : `namespace:${JSON.stringify(peer.namespaceSelector)}`);
        } else if (peer.podSelector?.matchLabels?.['app.kubernetes.io/name']) {
          const app = peer.podSelector.matchLabels['app.kubernetes.io/name'];
          for (const port of ports.length > 0 ? ports : ['any']) allowed.add(`${app}:${port}`);
        } else allowed.add('anywhere');
      }
    }
  }
  return [...allowed].sort();
}

/**
 * What a process's configuration makes it connect to, as egressOf names it: each host of its
 * broker, database, JWKS and subgraph URLs, by the Service it names (`auth`, or `mongodb` in
 * `mongodb-0.mongodb.reelflux.svc…`) and that Service's pods.
 */
function destinationsOf(objects: K8sObject[], config: unknown): string[] {
  const { amqpUrl, mongodbUri, tokens, subgraphUrls } = config as {
    amqpUrl?: string;
    mongodbUri?: string;
    tokens?: { jwksUrl: string };
    subgraphUrls?: Record<string, string>;
  };
  const urls = [amqpUrl, mongodbUri, tokens?.jwksUrl, ...Object.values(subgraphUrls ?? {})];
  const found = new Set<string>(['dns']);
  for (const url of urls) {
    if (url === undefined) continue;
    const hosts = /^\w+:\/\/(?:[^@/]*@)?([^/?]+)/.exec(url)?.[1]?.split(',') ?? [];
    for (const host of hosts) {
      const [name = '', port = ''] = host.split(':');
      const labels = name.split('.');
      const service = objects.find(
        (o) => o.kind === 'Service' && labels.slice(0, 2).includes(o.metadata.name),
      ) as ServiceObject | undefined;
      const app = service?.spec.selector['app.kubernetes.io/name'];
      if (!app) throw new Error(`${url}: no Service for ${host}`);
      found.add(`${app}:${port}`);
    }
  }
  return [...found].sort();
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

/**
 * Every kustomization under k8s/overlays, by its folder from there: the overlays, which are
 * built, and the Components, which kustomize builds only inside an overlay that uses them.
 */
function findKustomizations(root: string): { overlays: string[]; components: string[] } {
  const found = readdirSync(root, { recursive: true, encoding: 'utf8' })
    .filter((path) => basename(path) === 'kustomization.yaml')
    .map((path) => ({
      folder: dirname(path),
      kind: (parseYaml(readFileSync(join(root, path), 'utf8')) as { kind: string }).kind,
    }))
    .sort((a, b) => a.folder.localeCompare(b.folder));
  return {
    overlays: found.filter((k) => k.kind !== 'Component').map((k) => k.folder),
    components: found.filter((k) => k.kind === 'Component').map((k) => k.folder),
  };
}

interface AffinityTerm {
  labelSelector: { matchLabels: Record<string, string> };
  topologyKey: string;
}

interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  volumes?: {
    name: string;
    secret?: { secretName: string; items?: { key: string; path: string }[] };
    configMap?: { name: string; items?: { key: string; path: string }[] };
    emptyDir?: { medium?: string };
  }[];
  affinity?: {
    podAntiAffinity?: {
      requiredDuringSchedulingIgnoredDuringExecution?: AffinityTerm[];
      preferredDuringSchedulingIgnoredDuringExecution?: {
        weight: number;
        podAffinityTerm: AffinityTerm;
      }[];
    };
  };
}

/** A Deployment or a StatefulSet, as far as these checks read them. */
type Workload = K8sObject & {
  spec: {
    replicas?: number;
    serviceName?: string;
    podManagementPolicy?: string;
    template: { metadata: { labels: Record<string, string> }; spec: PodSpec };
  };
};

type ServiceObject = K8sObject & {
  spec: {
    clusterIP?: string;
    publishNotReadyAddresses?: boolean;
    selector: Record<string, string>;
    ports: { name?: string; port: number }[];
  };
};

/** The object of that kind and name in a rendered overlay; failing names what is missing. */
function getObject<T>(objects: K8sObject[], kind: string, name: string): K8sObject & T {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name}`);
  return found as K8sObject & T;
}

/** A StatefulSet's headless Service, which publishes members before they are ready. */
function expectPeerService(objects: K8sObject[], name: string | undefined, overlay: string) {
  const service = getObject<ServiceObject>(objects, 'Service', name ?? '');
  expect(service.spec.clusterIP, overlay).toBe('None');
  expect(service.spec.publishNotReadyAddresses, overlay).toBe(true);
  return service;
}

function containerOf(workload: Workload, name: string): Container {
  const container = workload.spec.template.spec.containers.find((c) => c.name === name);
  if (!container) throw new Error(`${workload.metadata.name} has no container ${name}`);
  return container;
}

/** The volume mounted where a container finds `path`, and the file's name in that volume. */
function volumeAt(workload: Workload, container: Container, path: string) {
  const mount = container.volumeMounts?.find((m) =>
    m.subPath === undefined ? path.startsWith(`${m.mountPath}/`) : path === m.mountPath,
  );
  const volume = workload.spec.template.spec.volumes?.find((v) => v.name === mount?.name);
  if (!mount || !volume) throw new Error(`${container.name}: nothing is mounted at ${path}`);
  return { volume, file: mount.subPath ?? path.slice(mount.mountPath.length + 1) };
}

/** The reelflux-keys key a container reads at `path`. */
function secretKeyAt(workload: Workload, container: Container, path: string): string | undefined {
  const { volume, file } = volumeAt(workload, container, path);
  expect(volume.secret?.secretName, path).toBe('reelflux-keys');
  return volume.secret?.items?.find((item) => item.path === file)?.key;
}

/** The text a container reads at `path`, from a ConfigMap of the same overlay. */
function configFileAt(
  objects: K8sObject[],
  workload: Workload,
  container: Container,
  path: string,
): string {
  const { volume, file } = volumeAt(workload, container, path);
  if (!volume.configMap) throw new Error(`${path} is not from a ConfigMap`);
  const key = volume.configMap.items?.find((item) => item.path === file)?.key ?? file;
  const text = getObject<{ data: Record<string, string> }>(
    objects,
    'ConfigMap',
    volume.configMap.name,
  ).data[key];
  if (text === undefined) throw new Error(`ConfigMap ${volume.configMap.name} has no ${key}`);
  return text;
}

/** Asserts that the workload's pods keep off nodes that run one of theirs. */
function expectOnePerNode(workload: Workload, how: 'required' | 'preferred'): void {
  const anti = workload.spec.template.spec.affinity?.podAntiAffinity;
  const terms =
    how === 'required'
      ? (anti?.requiredDuringSchedulingIgnoredDuringExecution ?? [])
      : (anti?.preferredDuringSchedulingIgnoredDuringExecution ?? []).map((p) => p.podAffinityTerm);
  const own = workload.spec.template.metadata.labels['app.kubernetes.io/name'];
  expect(own, workload.metadata.name).toBe(workload.metadata.name);
  expect(terms, `${workload.metadata.name}: ${how} anti-affinity`).toContainEqual({
    labelSelector: { matchLabels: { 'app.kubernetes.io/name': own } },
    topologyKey: 'kubernetes.io/hostname',
  });
}

type MongoAnswer = (host: string, command: Record<string, unknown>) => unknown;

/**
 * Runs the initiate sidecar's script as mongosh would, against fake members: `answer` gets each
 * connection (`{ connect }`), login (`{ auth, pwd }`) and command, by host, and replies or throws
 * as mongosh does. Its retry loop is stopped after `rounds` waits.
 */
function runInitiateScript(script: string, hostname: string, answer: MongoAnswer, rounds = 5) {
  const sent: { host: string; command: Record<string, unknown> }[] = [];
  let waits = 0;
  const ask = (host: string, command: Record<string, unknown>) => {
    sent.push({ host, command });
    return answer(host, command);
  };
  class Mongo {
    private readonly host: string;
    constructor(uri: string) {
      this.host = /^mongodb:\/\/([^/]+)\//.exec(uri)?.[1] ?? uri;
      ask(this.host, { connect: uri });
    }
    getDB(name: string) {
      expect(name).toBe('admin');
      return {
        auth: (user: string, pwd: string) => ask(this.host, { auth: user, pwd }),
        runCommand: (command: Record<string, unknown>) => ask(this.host, command),
      };
    }
    close() {}
  }
  const stop = new Error('stopped waiting');
  try {
    runInNewContext(script, {
      Mongo,
      print: () => undefined,
      sleep: () => {
        if (++waits >= rounds) throw stop;
      },
      require: (module: string) => {
        expect(module).toBe('fs');
        return { readFileSync: (path: string) => `password of ${basename(path)}\n` };
      },
      process: { env: { HOSTNAME: hostname } },
    });
  } catch (error) {
    if (error !== stop) throw error;
  }
  return { sent, waits, initiations: sent.filter((s) => 'replSetInitiate' in s.command) };
}

const LOCAL_MONGOD = '127.0.0.1:27017';
const mongoError = (code: number, message: string) => Object.assign(new Error(message), { code });

/**
 * A new set, as member 0's sidecar meets it: the image's first-start setup still running (no
 * login yet), then member 1 not answering, then everyone up and no set configured.
 */
const newReplicaSet = (): MongoAnswer => {
  let round = 0;
  return (host, command) => {
    if ('connect' in command) {
      if (host === LOCAL_MONGOD) round++;
      else if (round === 2) throw new Error('connect ECONNREFUSED');
      return undefined;
    }
    if (host === LOCAL_MONGOD && 'auth' in command) {
      if (round === 1) throw mongoError(18, 'Authentication failed.');
      return { ok: 1 };
    }
    if (host === LOCAL_MONGOD && 'replSetGetStatus' in command)
      throw mongoError(94, 'no replset config has been received');
    if (host === LOCAL_MONGOD && 'replSetInitiate' in command) return { ok: 1 };
    if ('hello' in command) return { ok: 1, isWritablePrimary: false, secondary: false };
    throw new Error(`unexpected ${JSON.stringify(command)} to ${host}`);
  };
};

/** MongoDB of a production overlay: the StatefulSet, its start script and initiate sidecar. */
function productionMongodb(objects: K8sObject[]) {
  const statefulSet = getObject<Workload>(objects, 'StatefulSet', 'mongodb');
  const mongod = containerOf(statefulSet, 'mongodb');
  const startPath = mongod.command?.find((arg) => arg.endsWith('.sh')) ?? 'no start script';
  const startScript = configFileAt(objects, statefulSet, mongod, startPath);
  const sidecar = containerOf(statefulSet, 'initiate');
  const initiatePath = /\s(\/\S+\.js)\b/.exec(sidecar.command?.join(' ') ?? '')?.[1] ?? 'none';
  const initiateScript = configFileAt(objects, statefulSet, sidecar, initiatePath);
  // What member 0 initiates the set with.
  const { initiations } = runInitiateScript(initiateScript, 'mongodb-0', newReplicaSet());
  const config = initiations[0]?.command.replSetInitiate as
    { _id: string; members: { _id: number; host: string }[] } | undefined;
  return { statefulSet, mongod, startScript, sidecar, initiateScript, initiations, config };
}

describe('shipping: Kubernetes manifests, docker-compose and the Dockerfile', () => {
  const { overlays, components } = findKustomizations(fromRoot('k8s', 'overlays'));
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
    expect(overlays).toEqual(
      expect.arrayContaining(['minikube', 'production', 'production/with-keda']),
    );
    for (const [overlay, objects] of rendered) {
      expect(objects.length, overlay).toBeGreaterThan(20);
    }
    // A Component is rendered, and so checked, only through an overlay that uses it.
    expect(components).toContain('production/keda');
    const root = fromRoot('k8s', 'overlays');
    const used = overlays.flatMap((overlay) => {
      const kustomization = parseYaml(
        readFileSync(join(root, overlay, 'kustomization.yaml'), 'utf8'),
      ) as { components?: string[] };
      return (kustomization.components ?? []).map((c) => relative(root, resolve(root, overlay, c)));
    });
    expect(used).toEqual(expect.arrayContaining(components));
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

        for (const source of container.envFrom ?? [])
          expect(source.configMapRef?.name, where).toBe(configMap?.metadata.name);
        const env = containerEnv(objects, container);
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
        const config = loadWith(name, env) as { port?: number; internalPort: number };
        expectOwnUsers(where, name, config);
        expect(config.port, where).toBe(PROCESSES[name].port);
        expect(config.internalPort, where).toBe(PROCESSES[name].internalPort);
        // The public port (none for the worker), then the internal one, which the probes ask.
        expect(container.ports, where).toEqual([
          ...(config.port === undefined ? [] : [{ name: 'http', containerPort: config.port }]),
          { name: 'internal', containerPort: config.internalPort },
        ]);
        expect(container.readinessProbe?.httpGet, where).toEqual({
          path: '/readyz',
          port: 'internal',
        });
        expect(container.livenessProbe?.httpGet, where).toEqual({
          path: '/healthz',
          port: 'internal',
        });
        // A Service for what clients call, and nothing else: never the internal port.
        const service = objects.find((o) => o.kind === 'Service' && o.metadata.name === name) as
          | (K8sObject & {
              spec: {
                selector: Record<string, string>;
                ports: { port: number; targetPort: string }[];
              };
            })
          | undefined;
        if (config.port === undefined) {
          expect(service, `${where} service`).toBeUndefined();
          continue;
        }
        expect(service?.spec.selector, `${where} service`).toEqual({
          'app.kubernetes.io/name': name,
        });
        // One port (a NodePort in minikube may add its node port).
        expect(service?.spec.ports, `${where} service`).toMatchObject([
          { name: 'http', port: config.port, targetPort: 'http' },
        ]);
      }
      // No Service anywhere reaches a process's internal port.
      for (const service of objects.filter((o) => o.kind === 'Service') as ServiceObject[]) {
        const ports = service.spec.ports as { port: number; targetPort?: string | number }[];
        for (const port of ports) {
          const where = `${overlay}: Service ${service.metadata.name}`;
          expect(port.targetPort, where).not.toBe('internal');
          expect(
            Object.values(PROCESSES).map((p) => p.internalPort as number),
            where,
          ).not.toContain(port.targetPort ?? port.port);
        }
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

  it('mounts no service-account token in any pod: no process talks to the Kubernetes API', () => {
    for (const [overlay, objects] of rendered) {
      const workloads = objects.filter(
        (o): o is Workload => o.kind === 'Deployment' || o.kind === 'StatefulSet',
      );
      expect(workloads.length, overlay).toBe(Object.keys(PROCESSES).length + 2);
      for (const workload of workloads) {
        const spec = workload.spec.template.spec as { automountServiceAccountToken?: boolean };
        expect(spec.automountServiceAccountToken, `${overlay}: ${workload.metadata.name}`).toBe(
          false,
        );
      }
    }
  });

  it('lets only the ingress controller reach the router, wherever the router believes a proxy', () => {
    for (const [overlay, objects] of rendered) {
      const router = getObject<Workload>(objects, 'Deployment', 'router');
      const labels = router.spec.template.metadata.labels;
      const hops = containerEnv(objects, containerOf(router, 'router')).TRUSTED_PROXY_HOPS;
      const rules = policiesFor(objects, labels, 'Ingress').flatMap((p) => p.spec.ingress ?? []);
      // Whoever reaches the router names its client address in X-Forwarded-For: that is the
      // ingress controller alone. Where it believes none (minikube's NodePort), anyone may.
      if (hops === '0') {
        expect(overlay).toBe('overlays/minikube');
        continue;
      }
      expect(hops, overlay).toBe('1');
      expect(rules.length, overlay).toBeGreaterThan(0);
      for (const rule of rules) {
        // The internal port is for Prometheus (internal-from-monitoring).
        if (rule.ports?.every((p) => p.port === 'internal')) continue;
        expect(rule.ports, overlay).toEqual([{ port: 4000 }]);
        expect(rule.from, overlay).toEqual([
          {
            namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } },
            podSelector: { matchLabels: { 'app.kubernetes.io/name': 'ingress-nginx' } },
          },
        ]);
      }
    }
  });

  it('lets each process reach DNS and what its configuration names, and nothing else', () => {
    for (const [overlay, objects] of rendered) {
      // Nothing leaves a pod of the namespace unless a policy says so.
      const denyAll = objects.find(
        (o) =>
          o.kind === 'NetworkPolicy' &&
          JSON.stringify((o as NetworkPolicyObject).spec) ===
            JSON.stringify({ podSelector: {}, policyTypes: ['Egress'] }),
      );
      expect(denyAll, overlay).toBeDefined();
      for (const name of Object.keys(PROCESSES)) {
        if (!isProcess(name)) continue;
        const deployment = getObject<Workload>(objects, 'Deployment', name);
        const config = loadWith(name, containerEnv(objects, containerOf(deployment, name)));
        expect(
          egressOf(objects, deployment.spec.template.metadata.labels),
          `${overlay}: ${name}`,
        ).toEqual(destinationsOf(objects, config));
      }
      // MongoDB and RabbitMQ reach their own members only, in production.
      const replicated = overlay.startsWith('overlays/production');
      const members = {
        mongodb: replicated ? ['dns', 'mongodb:27017'] : ['dns'],
        rabbitmq: replicated ? ['dns', 'rabbitmq:25672', 'rabbitmq:4369'] : ['dns'],
      };
      for (const [name, expected] of Object.entries(members)) {
        const statefulSet = getObject<Workload>(objects, 'StatefulSet', name);
        expect(
          egressOf(objects, statefulSet.spec.template.metadata.labels),
          `${overlay}: ${name}`,
        ).toEqual(expected);
      }
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

  describe('the production overlays', () => {
    /** production, and the same with KEDA: every check holds for each. */
    const production = () => {
      const found = [...rendered].filter(([name]) => name.startsWith('overlays/production'));
      expect(found.map(([name]) => name)).toEqual(
        expect.arrayContaining(['overlays/production', 'overlays/production/with-keda']),
      );
      return found;
    };

    it('run MongoDB as a replica set of three with a key file, one member per node', () => {
      for (const [overlay, objects] of production()) {
        const mongodb = productionMongodb(objects);
        const { statefulSet, mongod, startScript, sidecar } = mongodb;
        expect(statefulSet.spec.replicas, overlay).toBe(3);
        expect(statefulSet.spec.podManagementPolicy, overlay).toBe('Parallel');
        expectOnePerNode(statefulSet, 'required');
        execFileSync('bash', ['-n'], { input: startScript });

        // Every member runs mongod in the set, authenticating members with a private copy of
        // the key from reelflux-keys.
        const setName = /--replSet (\S+)/.exec(startScript)?.[1];
        expect(mongodb.config?._id, overlay).toBe(setName);
        const keyFile = /--keyFile "\$(\w+)"/.exec(startScript)?.[1] ?? 'none';
        const keyCopy = new RegExp(`^${keyFile}=(\\S+)$`, 'm').exec(startScript)?.[1];
        const keySource = new RegExp(`^cp (\\S+) "\\$${keyFile}"$`, 'm').exec(startScript)?.[1];
        expect(startScript, overlay).toContain(`chmod 0400 "$${keyFile}"`);
        // In memory: the key never reaches the node's disk.
        expect(volumeAt(statefulSet, mongod, keyCopy ?? 'none').volume.emptyDir, overlay).toEqual({
          medium: 'Memory',
          sizeLimit: '1Mi',
        });
        expect(secretKeyAt(statefulSet, mongod, keySource ?? 'none'), overlay).toBe(
          keyFiles.mongodbReplicaSetKey,
        );
        // The image's first-start setup (root user, mongodb-users.js) only on member 0.
        expect(startScript, overlay).toMatch(
          /if \[ "\$ordinal" = 0 \].*\n\s+exec docker-entrypoint/,
        );

        // The sidecar logs in as root with the password of the root user.
        const rootPassword = /readFileSync\('([^']+)'/.exec(mongodb.initiateScript)?.[1];
        expect(secretKeyAt(statefulSet, sidecar, rootPassword ?? 'none'), overlay).toBe(
          keyFiles.mongodbPassword('root'),
        );
        expect(sidecar.resources?.requests, overlay).toBeDefined();
        // Member 0 initiates a new set once with the three members, whatever it waited for.
        expect(mongodb.initiations, overlay).toHaveLength(1);
        expect(mongodb.config?.members, overlay).toEqual(
          [0, 1, 2].map((n) => ({
            _id: n,
            host: `mongodb-${n}.${statefulSet.spec.serviceName}.reelflux.svc.cluster.local:27017`,
          })),
        );
        const logins = runInitiateScript(mongodb.initiateScript, 'mongodb-0', newReplicaSet())
          .sent.filter((s) => 'auth' in s.command)
          .map((s) => s.command);
        expect(logins[0], overlay).toEqual({
          auth: 'root',
          pwd: 'password of mongodb-root.password',
        });
        // ... and never again: a set already initiated, or one another member belongs to
        // (member 0 lost its volume), is left alone; members 1 and 2 do nothing.
        const initiated = runInitiateScript(mongodb.initiateScript, 'mongodb-0', (_host, c) =>
          'replSetGetStatus' in c ? { ok: 1, set: setName } : { ok: 1 },
        );
        expect(initiated.initiations, overlay).toEqual([]);
        expect(
          initiated.sent.every((s) => s.host === LOCAL_MONGOD),
          overlay,
        ).toBe(true);
        const elsewhere = runInitiateScript(mongodb.initiateScript, 'mongodb-0', (host, c) => {
          if ('replSetGetStatus' in c) throw mongoError(94, 'no replset config has been received');
          if ('hello' in c) return host.startsWith('mongodb-2.') ? { ok: 1, setName } : { ok: 1 };
          return { ok: 1 };
        });
        expect(elsewhere.initiations, overlay).toEqual([]);
        expect(elsewhere.waits, overlay).toBe(0);
        expect(runInitiateScript(mongodb.initiateScript, 'mongodb-1', () => ({})).sent).toEqual([]);

        // Members find each other by these names before they are ready.
        expectPeerService(objects, statefulSet.spec.serviceName, overlay);
      }
    });

    it('give every MONGODB_URI the three members, the set and authSource=admin', () => {
      for (const [overlay, objects] of production()) {
        const { config } = productionMongodb(objects);
        const uris = objects
          .filter((o): o is Workload => o.kind === 'Deployment')
          .flatMap((d) => d.spec.template.spec.containers.flatMap((c) => c.env ?? []))
          .filter((e) => e.name === 'MONGODB_URI')
          .map((e) => e.value ?? '');
        expect(uris, overlay).toHaveLength(DATABASE_USERS.length);
        for (const uri of uris) {
          const [, hosts, query] = /^mongodb:\/\/\w+@([^/?]+)\/\?(.+)$/.exec(uri) ?? [];
          expect(hosts?.split(','), uri).toEqual(config?.members.map((m) => m.host));
          const options = new URLSearchParams(query);
          expect(options.get('replicaSet'), uri).toBe(config?._id);
          expect(options.get('authSource'), uri).toBe('admin');
        }
      }
    });

    it('run RabbitMQ as a cluster of three nodes, one per node, sharing an Erlang cookie', () => {
      for (const [overlay, objects] of production()) {
        const statefulSet = getObject<Workload>(objects, 'StatefulSet', 'rabbitmq');
        const rabbitmq = containerOf(statefulSet, 'rabbitmq');
        expect(statefulSet.spec.replicas, overlay).toBe(3);
        expect(statefulSet.spec.podManagementPolicy, overlay).toBe('Parallel');
        expectOnePerNode(statefulSet, 'required');

        // The configuration, conf.d file by file, as one list of settings.
        const settings = new Map<string, string>();
        for (const mount of rabbitmq.volumeMounts ?? []) {
          if (!mount.mountPath.startsWith('/etc/rabbitmq/conf.d/')) continue;
          const text = configFileAt(objects, statefulSet, rabbitmq, mount.mountPath);
          for (const [, key, value] of text.matchAll(/^([\w.]+)\s*=\s*(.+)$/gm))
            if (key && value) settings.set(key, value.trim());
        }
        expect(settings.get('cluster_formation.peer_discovery_backend'), overlay).toBe(
          'classic_config',
        );
        expect(settings.get('cluster_partition_handling'), overlay).toBe('pause_minority');
        // Each listed node is a pod of the StatefulSet, by the name the pod gives itself.
        const nodeName = rabbitmq.env?.find((e) => e.name === 'RABBITMQ_NODENAME')?.value ?? '';
        expect(rabbitmq.env?.find((e) => e.name === 'RABBITMQ_USE_LONGNAME')?.value).toBe('true');
        const pods = [0, 1, 2].map((n) => `rabbitmq-${n}`);
        expect(
          [1, 2, 3].map((n) => settings.get(`cluster_formation.classic_config.nodes.${n}`)),
          overlay,
        ).toEqual(pods.map((pod) => nodeName.replace('$(POD_NAME)', pod)));
        expect(nodeName, overlay).toBe(
          `rabbit@$(POD_NAME).${statefulSet.spec.serviceName}.reelflux.svc.cluster.local`,
        );
        const nodes = expectPeerService(objects, statefulSet.spec.serviceName, overlay);
        expect(nodes.spec.selector, overlay).toEqual({ 'app.kubernetes.io/name': 'rabbitmq' });
        // Nodes may reach each other's epmd and Erlang distribution ports.
        const policies = objects.filter(
          (o) =>
            o.kind === 'NetworkPolicy' &&
            JSON.stringify(o.spec).includes('"matchLabels":{"app.kubernetes.io/name":"rabbitmq"}'),
        ) as (K8sObject & { spec: { ingress?: { ports?: { port: number }[] }[] } })[];
        const open = policies.flatMap((p) => p.spec.ingress ?? []).flatMap((i) => i.ports ?? []);
        expect(
          open.map((p) => p.port),
          overlay,
        ).toEqual(expect.arrayContaining([4369, 25672]));

        // One Erlang cookie for all, from reelflux-keys.
        const cookie = /install -m 0400 (\S+) "\$HOME\/\.erlang\.cookie"/.exec(
          rabbitmq.command?.join(' ') ?? '',
        )?.[1];
        expect(secretKeyAt(statefulSet, rabbitmq, cookie ?? 'none'), overlay).toBe(
          keyFiles.rabbitmqErlangCookie,
        );
        expect(rabbitmq.command?.join(' '), overlay).toMatch(
          /exec docker-entrypoint\.sh rabbitmq-server$/m,
        );

        // Every process's AMQP_URL names a Service over all three nodes.
        const urls = objects
          .filter((o): o is Workload => o.kind === 'Deployment')
          .flatMap((d) => d.spec.template.spec.containers.flatMap((c) => c.env ?? []))
          .filter((e) => e.name === 'AMQP_URL')
          .map((e) => new URL(e.value ?? ''));
        expect(urls, overlay).toHaveLength(BROKER_ROLES.length);
        for (const url of urls) {
          const service = getObject<ServiceObject>(objects, 'Service', url.hostname);
          expect(service.spec.selector, `${url.href}`).toEqual({
            'app.kubernetes.io/name': 'rabbitmq',
          });
          expect(
            service.spec.ports.map((p) => p.port),
            url.href,
          ).toContain(Number(url.port));
          // A cluster IP spreads connections over the ready nodes.
          expect(service.spec.clusterIP, url.href).toBeUndefined();
        }
      }
    });

    it('serve HTTPS at the ingress, with download links to match', () => {
      for (const [overlay, objects] of production()) {
        const ingress = getObject<{
          metadata: { annotations?: Record<string, string> };
          spec: { rules: { host: string }[]; tls?: { hosts: string[]; secretName: string }[] };
        }>(objects, 'Ingress', 'router');
        const hosts = ingress.spec.rules.map((rule) => rule.host);
        expect(hosts, overlay).toEqual(['reelflux.example.com']);
        // Every host has a certificate, from the Secret cert-manager keeps.
        for (const host of hosts) {
          const tls = ingress.spec.tls?.find((entry) => entry.hosts.includes(host));
          expect(tls?.secretName, `${overlay}: ${host}`).toBe('reelflux-tls');
        }
        expect(ingress.metadata.annotations?.['cert-manager.io/cluster-issuer'], overlay).toBe(
          'letsencrypt',
        );
        // Media builds download links on PUBLIC_URL: https, on that host.
        const media = getObject<Workload>(objects, 'Deployment', 'media');
        const config = loadWith('media', containerEnv(objects, containerOf(media, 'media'))) as {
          publicUrl: string;
        };
        expect(config.publicUrl, overlay).toBe(`https://${hosts[0]}`);
      }
    });

    it('budget disruptions, request resources for every container and spread every process', () => {
      for (const [overlay, objects] of production()) {
        for (const name of ['mongodb', 'rabbitmq']) {
          const budget = getObject<{
            spec: { maxUnavailable: number; selector: { matchLabels: Record<string, string> } };
          }>(objects, 'PodDisruptionBudget', name);
          expect(budget.spec.maxUnavailable, `${overlay}: ${name}`).toBe(1);
          const pods = getObject<Workload>(objects, 'StatefulSet', name).spec.template.metadata;
          expect(pods.labels, `${overlay}: ${name}`).toMatchObject(
            budget.spec.selector.matchLabels,
          );
        }
        const workloads = objects.filter(
          (o): o is Workload => o.kind === 'Deployment' || o.kind === 'StatefulSet',
        );
        expect(workloads, overlay).toHaveLength(Object.keys(PROCESSES).length + 2);
        for (const workload of workloads) {
          const { containers, initContainers = [] } = workload.spec.template.spec;
          for (const container of [...containers, ...initContainers]) {
            const where = `${overlay}: ${workload.metadata.name}/${container.name}`;
            expect(container.resources?.requests?.cpu, where).toBeDefined();
            expect(container.resources?.requests?.memory, where).toBeDefined();
          }
        }
        for (const name of Object.keys(PROCESSES)) {
          const deployment = getObject<Workload>(objects, 'Deployment', name);
          expectOnePerNode(deployment, 'preferred');
          if (name !== 'worker') expect(deployment.spec.replicas, name).toBeGreaterThanOrEqual(2);
        }
        // Workers: as many as the autoscaler says, never fewer than two.
        const hpa = objects.find((o) => o.kind === 'HorizontalPodAutoscaler') as
          (K8sObject & { spec: { minReplicas: number } }) | undefined;
        const scaled = objects.find((o) => o.kind === 'ScaledObject') as
          (K8sObject & { spec: { minReplicaCount: number } }) | undefined;
        expect([hpa, scaled].filter(Boolean), overlay).toHaveLength(1);
        expect(
          hpa?.spec.minReplicas ?? scaled?.spec.minReplicaCount,
          overlay,
        ).toBeGreaterThanOrEqual(2);
      }
    });

    it('with KEDA, scale workers on the jobs queue the code names, as a user that may read it', () => {
      const objects = rendered.get('overlays/production/with-keda') ?? [];
      expect(rendered.get('overlays/production')?.some((o) => o.kind === 'ScaledObject')).toBe(
        false,
      );
      const scaled = getObject<{
        spec: {
          scaleTargetRef: { apiVersion: string; kind: string; name: string };
          triggers: {
            type: string;
            metadata: Record<string, string>;
            authenticationRef: { name: string };
          }[];
        };
      }>(objects, 'ScaledObject', 'worker');
      expect(scaled.spec.scaleTargetRef).toEqual({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        name: 'worker',
      });
      expect(objects.some((o) => o.kind === 'HorizontalPodAutoscaler')).toBe(false);
      const [trigger, ...others] = scaled.spec.triggers;
      expect(others).toEqual([]);
      expect(trigger?.type).toBe('rabbitmq');
      expect(trigger?.metadata.queueName).toBe(topologyNames().queues.jobs);
      expect(trigger?.metadata.mode).toBe('QueueLength');
      // Counting unacknowledged jobs (the management API does) needs http.
      expect(trigger?.metadata.protocol).toBe('http');
      // One worker per WORKER_CONCURRENCY jobs.
      const worker = containerOf(getObject<Workload>(objects, 'Deployment', 'worker'), 'worker');
      expect(trigger?.metadata.value).toBe(
        worker.env?.find((e) => e.name === 'WORKER_CONCURRENCY')?.value,
      );
      // The management API, through the broker's Service, open to KEDA.
      const api = new URL(trigger?.metadata.host ?? 'http://missing');
      const [serviceName, namespace] = api.hostname.split('.');
      expect(namespace).toBe(scaled.metadata.namespace);
      const service = getObject<ServiceObject>(objects, 'Service', serviceName ?? '');
      expect(service.spec.ports.map((p) => p.port)).toContain(Number(api.port));
      expect(service.spec.selector).toEqual({ 'app.kubernetes.io/name': 'rabbitmq' });
      const managementPolicy = objects.find(
        (o) =>
          o.kind === 'NetworkPolicy' &&
          JSON.stringify(o.spec).includes(`{"port":${Number(api.port)}}`),
      );
      expect(managementPolicy).toBeDefined();

      // Its login: a broker user from `npm run deploy:keys` that may use the management API.
      const auth = getObject<{
        spec: {
          secretTargetRef: { parameter: string; name: string; key: string }[];
          configMapTargetRef: { parameter: string; name: string; key: string }[];
        };
      }>(objects, 'TriggerAuthentication', trigger?.authenticationRef.name ?? '');
      const from = auth.spec.configMapTargetRef.find((r) => r.parameter === 'username');
      const username = getObject<{ data: Record<string, string> }>(
        objects,
        'ConfigMap',
        from?.name ?? '',
      ).data[from?.key ?? ''];
      const password = auth.spec.secretTargetRef.find((r) => r.parameter === 'password');
      expect(password).toEqual({
        parameter: 'password',
        name: 'reelflux-keys',
        key: keyFiles.rabbitmqPassword(username ?? ''),
      });
      const dir = mkdtempSync(join(tmpdir(), 'reelflux-keys-'));
      ensureDeployKeys(dir);
      expect(readdirSync(dir)).toContain(password?.key);
      const definitions = JSON.parse(
        readFileSync(join(dir, keyFiles.rabbitmqDefinitions), 'utf8'),
      ) as { users: { name: string; tags: string[] }[]; permissions: Record<string, string>[] };
      rmSync(dir, { recursive: true });
      const tags = definitions.users.find((u) => u.name === username)?.tags ?? [];
      // Monitoring only: whoever holds KEDA's login can publish and consume nothing.
      expect(tags).toEqual(['monitoring']);
      expect(definitions.permissions.find((p) => p.user === username)).toEqual({
        user: username,
        vhost: '/',
        configure: '^$',
        write: '^$',
        read: '^$',
      });
    });
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
    // Only the router's public port is published; no internal port (health, metrics) is.
    const published = Object.values(compose.services).flatMap((service) => service.ports ?? []);
    for (const { internalPort } of Object.values(PROCESSES))
      expect(published.join(' '), String(internalPort)).not.toContain(String(internalPort));
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
          /^\$\{REELFLUX_KEYS_DIR:-\.\/\.local\/keys\}\//,
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

  it('builds one non-root image whose entry point runs each process', () => {
    const dockerfile = readFileSync(fromRoot('Dockerfile'), 'utf8');
    const entrypoint = readFileSync(fromRoot('scripts', 'container-entrypoint.sh'), 'utf8');
    const ignored = readFileSync(fromRoot('.dockerignore'), 'utf8').split('\n');
    expect(dockerfile).toMatch(/^FROM \S+ AS build$/m);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK /m);
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
    // FFmpeg built for MP3s only: no network protocols, LAME, and the demuxers the worker allows.
    expect(dockerfile).toMatch(/^FROM \S+ AS ffmpeg$/m);
    expect(dockerfile).toMatch(/--disable-network .*\n(.*\n)*.*--enable-protocol=file,pipe /);
    expect(dockerfile).toMatch(/--enable-libmp3lame /);
    expect(dockerfile).toMatch(/--enable-encoder=libmp3lame /);
    const exposed = /^EXPOSE (.+)$/m.exec(dockerfile)?.[1]?.split(' ').map(Number);
    expect(exposed?.sort()).toEqual(
      Object.values(PROCESSES)
        .flatMap((p) => (p.port === undefined ? [p.internalPort] : [p.port, p.internalPort]))
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
    expect(output).toContain('Dockerfile: 3 stages');
  });
});
