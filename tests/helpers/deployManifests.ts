import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { ConfigMap, Namespace, Service } from 'kubernetes-models/v1';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { Ingress, NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ScaledObject, TriggerAuthentication } from '@kubernetes-models/keda/keda.sh/v1alpha1';
import { beforeAll, describe, expect } from 'vitest';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { fromRoot } from '../../lib/platform/projectRoot.js';
import { BROKER_ROLES } from '../../lib/broker/topology.js';
import { loadRouterConfig } from '../../router/config.js';
import { DATABASE_USERS, keyFiles } from '../../scripts/ensureDeployKeys.js';
import { ensureManifestTools, type ManifestTools } from '../../scripts/ensureManifestTools.js';
import { loadAuthConfig } from '../../subgraphs/auth/config.js';
import { loadConversionConfig } from '../../subgraphs/conversion/config.js';
import { loadMediaConfig } from '../../subgraphs/media/config.js';
import { loadNotificationConfig } from '../../subgraphs/notification/config.js';
import { loadWorkerConfig } from '../../worker/config.js';

/**
 * Offline checks of what ships: kustomize renders every overlay, every object validates against
 * the Kubernetes OpenAPI schemas bundled in kubernetes-models, and the manifests, the compose
 * file and the Dockerfile agree with the code (variables, ports, probes, images, processes).
 */

export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
} & Record<string, unknown>;

/** One validator per kind we ship; a new kind fails the test until it is added here. */
export const VALIDATORS: Record<string, (object: K8sObject) => void> = {
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
export const PROCESSES = {
  router: { load: loadRouterConfig, port: 4000, internalPort: 9400 },
  auth: { load: loadAuthConfig, port: 4001, internalPort: 9401 },
  media: { load: loadMediaConfig, port: 4002, internalPort: 9402 },
  conversion: { load: loadConversionConfig, port: 4003, internalPort: 9403 },
  notification: { load: loadNotificationConfig, port: 4004, internalPort: 9404 },
  worker: { load: loadWorkerConfig, port: undefined, internalPort: 9410 },
} as const;
export type ProcessName = keyof typeof PROCESSES;
export const isProcess = (name: string): name is ProcessName => name in PROCESSES;

export interface Container {
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
export function containerEnv(objects: K8sObject[], container: Container): Record<string, string> {
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
      // As long as the secrets that must be 32 bytes or more.
      'stand-in-secret'.padEnd(48, '-');
  }
  return env;
}

export interface PolicyPeer {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: { cidr: string; except?: string[] };
}
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}
export type NetworkPolicyObject = K8sObject & {
  spec: {
    podSelector: LabelSelector;
    policyTypes: string[];
    ingress?: { from?: PolicyPeer[]; ports?: { port: number | string; protocol?: string }[] }[];
    egress?: { to?: PolicyPeer[]; ports?: { port: number | string; protocol?: string }[] }[];
  };
};

/** Whether a label selector (matchLabels, and matchExpressions with In) selects `labels`. */
export function selects(selector: LabelSelector, labels: Record<string, string>): boolean {
  const byLabels = Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
  const byExpressions = (selector.matchExpressions ?? []).every((e) => {
    if (e.operator !== 'In') throw new Error(`selector operator ${e.operator} not checked here`);
    return e.values?.includes(labels[e.key] ?? '') ?? false;
  });
  return byLabels && byExpressions;
}

/** The NetworkPolicies of an overlay that apply to pods with `labels`, for `type`. */
export function policiesFor(
  objects: K8sObject[],
  labels: Record<string, string>,
  type: 'Ingress' | 'Egress',
): NetworkPolicyObject[] {
  return (objects.filter((o) => o.kind === 'NetworkPolicy') as NetworkPolicyObject[]).filter(
    (p) => p.spec.policyTypes.includes(type) && selects(p.spec.podSelector, labels),
  );
}

/**
 * What a webhook must never reach, whatever its URL: private (RFC 1918), shared (carrier-grade
 * NAT), link-local (the cloud metadata address) and loopback ranges.
 */
export const NOT_PUBLIC_RANGES = [
  '10.0.0.0/8',
  '172.16.0.0/12',
  '192.168.0.0/16',
  '169.254.0.0/16',
  '100.64.0.0/10',
  '127.0.0.0/8',
] as const;

/**
 * Whether an ipBlock is the public internet: every IPv4 address but NOT_PUBLIC_RANGES, or
 * IPv6's global unicast range (2000::/3, which holds no private, link-local or loopback address).
 */
export function isPublicInternet(block: { cidr: string; except?: string[] }): boolean {
  const except = [...(block.except ?? [])].sort();
  if (block.cidr === '2000::/3') return except.length === 0;
  return block.cidr === '0.0.0.0/0' && except.join() === [...NOT_PUBLIC_RANGES].sort().join();
}

/**
 * Where pods with `labels` may connect, as `<app>:<port>` for pods of this namespace by their
 * `app.kubernetes.io/name`, `dns` for the cluster's DNS, `internet:<port>` for public addresses
 * (isPublicInternet), or `anywhere`/`ip:<cidr> !<except>…:<port>`.
 */
export function egressOf(objects: K8sObject[], labels: Record<string, string>): string[] {
  const allowed = new Set<string>();
  for (const policy of policiesFor(objects, labels, 'Egress')) {
    for (const rule of policy.spec.egress ?? []) {
      const ports = (rule.ports ?? []).map((p) => String(p.port));
      for (const peer of rule.to ?? [{}]) {
        if (peer.ipBlock) {
          const { cidr, except = [] } = peer.ipBlock;
          const where = isPublicInternet(peer.ipBlock)
            ? 'internet'
            : `ip:${[cidr, ...except.map((range) => `!${range}`)].join(' ')}`;
          for (const port of ports.length > 0 ? ports : ['any']) allowed.add(`${where}:${port}`);
        } else if (peer.namespaceSelector) {
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
 * `mongodb-0.mongodb.reelflux.svc…`) and that Service's pods; and, for a process that sends
 * webhooks, browser pushes and mail, the public internet on the ports of https, http
 * (WEBHOOK_ALLOW_HTTP) and SMTP submission (587, 465).
 */
export function destinationsOf(objects: K8sObject[], config: unknown): string[] {
  const { amqpUrl, mongodbUri, tokens, subgraphUrls, webhooks } = config as {
    amqpUrl?: string;
    mongodbUri?: string;
    tokens?: { jwksUrl: string };
    subgraphUrls?: Record<string, string>;
    webhooks?: unknown;
  };
  const urls = [amqpUrl, mongodbUri, tokens?.jwksUrl, ...Object.values(subgraphUrls ?? {})];
  const found = new Set<string>(
    webhooks ? ['dns', 'internet:443', 'internet:80', 'internet:587', 'internet:465'] : ['dns'],
  );
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
export const secretsDir = mkdtempSync(join(tmpdir(), 'reelflux-deploy-'));
export const fakeKey = join(secretsDir, 'jwt-private-key');
export const fakeSecret = join(secretsDir, 'download-token-secret');
writeFileSync(
  fakeKey,
  generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }),
);
writeFileSync(fakeSecret, randomBytes(32).toString('hex'));
export const standIn = (path: string) =>
  path.endsWith(keyFiles.jwtPrivateKey) ? fakeKey : fakeSecret;
export const standInSecret = readFileSync(fakeSecret, 'utf8');

/** Every process connects to the broker and the database as a user of its own name. */
export function expectOwnUsers(where: string, name: string, config: unknown): void {
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

/**
 * Loads a process's config from an environment, with secret files replaced by stand-ins; an
 * empty *_FILE stays empty (unset, as the local cluster's MONGODB_PASSWORD_FILE).
 */
export function loadWith(process: ProcessName, env: Record<string, string>): unknown {
  const withFiles = Object.fromEntries(
    Object.entries(env).map(([name, value]) => [
      name,
      name.endsWith('_FILE') && value !== '' ? standIn(value) : value,
    ]),
  );
  return PROCESSES[process].load(withFiles);
}

/**
 * Every kustomization under k8s/overlays, by its folder from there: the overlays, which are
 * built, and the Components, which kustomize builds only inside an overlay that uses them.
 */
export function findKustomizations(root: string): { overlays: string[]; components: string[] } {
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

export interface AffinityTerm {
  labelSelector: { matchLabels: Record<string, string> };
  topologyKey: string;
}

export interface PodSpec {
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
export type Workload = K8sObject & {
  spec: {
    replicas?: number;
    serviceName?: string;
    podManagementPolicy?: string;
    template: { metadata: { labels: Record<string, string> }; spec: PodSpec };
  };
};

export type ServiceObject = K8sObject & {
  spec: {
    clusterIP?: string;
    publishNotReadyAddresses?: boolean;
    selector: Record<string, string>;
    ports: { name?: string; port: number }[];
  };
};

/** The object of that kind and name in a rendered overlay; failing names what is missing. */
export function getObject<T>(objects: K8sObject[], kind: string, name: string): K8sObject & T {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name}`);
  return found as K8sObject & T;
}

/** A StatefulSet's headless Service, which publishes members before they are ready. */
export function expectPeerService(objects: K8sObject[], name: string | undefined, overlay: string) {
  const service = getObject<ServiceObject>(objects, 'Service', name ?? '');
  expect(service.spec.clusterIP, overlay).toBe('None');
  expect(service.spec.publishNotReadyAddresses, overlay).toBe(true);
  return service;
}

export function containerOf(workload: Workload, name: string): Container {
  const container = workload.spec.template.spec.containers.find((c) => c.name === name);
  if (!container) throw new Error(`${workload.metadata.name} has no container ${name}`);
  return container;
}

/** The volume mounted where a container finds `path`, and the file's name in that volume. */
export function volumeAt(workload: Workload, container: Container, path: string) {
  const mount = container.volumeMounts?.find((m) =>
    m.subPath === undefined ? path.startsWith(`${m.mountPath}/`) : path === m.mountPath,
  );
  const volume = workload.spec.template.spec.volumes?.find((v) => v.name === mount?.name);
  if (!mount || !volume) throw new Error(`${container.name}: nothing is mounted at ${path}`);
  return { volume, file: mount.subPath ?? path.slice(mount.mountPath.length + 1) };
}

/** The reelflux-keys key a container reads at `path`. */
export function secretKeyAt(
  workload: Workload,
  container: Container,
  path: string,
): string | undefined {
  const { volume, file } = volumeAt(workload, container, path);
  expect(volume.secret?.secretName, path).toBe('reelflux-keys');
  return volume.secret?.items?.find((item) => item.path === file)?.key;
}

/** The text a container reads at `path`, from a ConfigMap of the same overlay. */
export function configFileAt(
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
export function expectOnePerNode(workload: Workload, how: 'required' | 'preferred'): void {
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

export type MongoAnswer = (host: string, command: Record<string, unknown>) => unknown;

/**
 * Runs the initiate sidecar's script as mongosh would, against fake members: `answer` gets each
 * connection (`{ connect }`), login (`{ auth, pwd }`) and command, by host, and replies or throws
 * as mongosh does. Its retry loop is stopped after `rounds` waits.
 */
export function runInitiateScript(
  script: string,
  hostname: string,
  answer: MongoAnswer,
  rounds = 5,
) {
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

export const LOCAL_MONGOD = '127.0.0.1:27017';
export const mongoError = (code: number, message: string) =>
  Object.assign(new Error(message), { code });

/**
 * A new set, as member 0's sidecar meets it: the image's first-start setup still running (no
 * login yet), then member 1 not answering, then everyone up and no set configured.
 */
export const newReplicaSet = (): MongoAnswer => {
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
export function productionMongodb(objects: K8sObject[]) {
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

/**
 * The manifest tools (kustomize, the compose and Dockerfile checker), and the base and every
 * overlay rendered by kustomize, once per file: call it in a describe, read them in its tests.
 */
function useRenderedManifests() {
  const { overlays, components } = findKustomizations(fromRoot('k8s', 'overlays'));
  const rendered = new Map<string, K8sObject[]>();
  const shared = { overlays, components, rendered, tools: undefined as unknown as ManifestTools };

  beforeAll(() => {
    shared.tools = ensureManifestTools((line) => process.stdout.write(`${line}\n`));
    for (const overlay of ['base', ...overlays.map((o) => `overlays/${o}`)]) {
      const yaml = execFileSync(shared.tools.kustomize, ['build', fromRoot('k8s', overlay)], {
        encoding: 'utf8',
      });
      rendered.set(
        overlay,
        parseAllDocuments(yaml).map((doc) => doc.toJS() as K8sObject),
      );
    }
  }, 300_000);
  return shared;
}

/** The production overlays, with KEDA and without: every production check holds for each. */
export function productionOverlays(rendered: Map<string, K8sObject[]>) {
  const found = [...rendered].filter(([name]) => name.startsWith('overlays/production'));
  expect(found.map(([name]) => name)).toEqual(
    expect.arrayContaining(['overlays/production', 'overlays/production/with-keda']),
  );
  return found;
}

export type RenderedManifests = ReturnType<typeof useRenderedManifests>;

/** A `shipping: …` suite of its own, with the manifests rendered once for its tests. */
export function describeShipping(
  title: string,
  tests: (manifests: RenderedManifests) => void,
): void {
  describe(`shipping: ${title}`, () => tests(useRenderedManifests()));
}
