import {
  type K8sObject,
  PROCESSES,
  containerEnv,
  loadWith,
  type Workload,
  type ServiceObject,
  getObject,
  expectPeerService,
  containerOf,
  volumeAt,
  secretKeyAt,
  configFileAt,
  expectOnePerNode,
  runInitiateScript,
  LOCAL_MONGOD,
  mongoError,
  newReplicaSet,
  productionMongodb,
  describeShipping,
  productionOverlays,
  type NetworkPolicyObject,
  NOT_PUBLIC_RANGES,
  egressOf,
} from './helpers/deployManifests.js';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { BROKER_ROLES, topologyNames } from '../lib/broker/topology.js';
import { DATABASE_USERS, ensureDeployKeys, keyFiles } from '../scripts/ensureDeployKeys.js';

/** Offline: the production overlays, with KEDA and without (see tests/helpers/deployManifests.ts). */
describeShipping('the production overlays', ({ rendered }) => {
  it('run MongoDB as a replica set of three with a key file, one member per node', () => {
    for (const [overlay, objects] of productionOverlays(rendered)) {
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
      expect(startScript, overlay).toMatch(/if \[ "\$ordinal" = 0 \].*\n\s+exec docker-entrypoint/);

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
    for (const [overlay, objects] of productionOverlays(rendered)) {
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
    for (const [overlay, objects] of productionOverlays(rendered)) {
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
    for (const [overlay, objects] of productionOverlays(rendered)) {
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
      // Media and the notification service (in webhooks) build download links on PUBLIC_URL:
      // https, on that host.
      for (const name of ['media', 'notification'] as const) {
        const deployment = getObject<Workload>(objects, 'Deployment', name);
        const config = loadWith(name, containerEnv(objects, containerOf(deployment, name))) as {
          downloads: { publicUrl: string };
        };
        expect(config.downloads.publicUrl, `${overlay}: ${name}`).toBe(`https://${hosts[0]}`);
      }
    }
  });

  it('let only the notification pods reach the internet: public addresses, on TCP 443, 80, 587 and 465', () => {
    for (const [overlay, objects] of productionOverlays(rendered)) {
      const policies = objects.filter((o) => o.kind === 'NetworkPolicy') as NetworkPolicyObject[];
      // Every egress rule that leaves the namespace's pods and DNS: an address block, or no `to`
      // at all (anywhere).
      const outward = policies.flatMap((policy) =>
        (policy.spec.egress ?? [])
          .filter((rule) => rule.to === undefined || rule.to.some((peer) => peer.ipBlock))
          .map((rule) => ({ policy, rule })),
      );
      expect(outward.length, overlay).toBeGreaterThan(0);
      for (const { policy, rule } of outward) {
        const where = `${overlay}: ${policy.metadata.name}`;
        expect(policy.spec.podSelector, where).toEqual({
          matchLabels: { 'app.kubernetes.io/name': 'notification' },
        });
        // IPv4 with the ranges that are not public cut out, and IPv6's global unicast range
        // (which holds no unique-local, link-local, loopback or multicast address).
        const blocks = (rule.to ?? []).map((peer) => peer.ipBlock);
        expect(blocks, where).toEqual([
          { cidr: '0.0.0.0/0', except: expect.any(Array) },
          { cidr: '2000::/3' },
        ]);
        expect([...(blocks[0]?.except ?? [])].sort(), where).toEqual([...NOT_PUBLIC_RANGES].sort());
        expect(rule.ports, where).toEqual(
          expect.arrayContaining([
            { port: 443, protocol: 'TCP' },
            { port: 80, protocol: 'TCP' },
            { port: 587, protocol: 'TCP' },
            { port: 465, protocol: 'TCP' },
          ]),
        );
        expect(rule.ports, where).toHaveLength(4);
      }
      // As the pods see it: the notification pods reach the internet, no other pod does.
      const workloads = objects.filter(
        (o): o is Workload => o.kind === 'Deployment' || o.kind === 'StatefulSet',
      );
      for (const workload of workloads) {
        const name = workload.metadata.name;
        const outside = egressOf(objects, workload.spec.template.metadata.labels).filter((to) =>
          /^(internet|ip|namespace):|^anywhere$/.test(to),
        );
        expect(outside, `${overlay}: ${name}`).toEqual(
          name === 'notification'
            ? ['internet:443', 'internet:465', 'internet:587', 'internet:80']
            : [],
        );
      }
    }
  });

  it('budget disruptions, request resources for every container and spread every process', () => {
    for (const [overlay, objects] of productionOverlays(rendered)) {
      for (const name of ['mongodb', 'rabbitmq']) {
        const budget = getObject<{
          spec: { maxUnavailable: number; selector: { matchLabels: Record<string, string> } };
        }>(objects, 'PodDisruptionBudget', name);
        expect(budget.spec.maxUnavailable, `${overlay}: ${name}`).toBe(1);
        const pods = getObject<Workload>(objects, 'StatefulSet', name).spec.template.metadata;
        expect(pods.labels, `${overlay}: ${name}`).toMatchObject(budget.spec.selector.matchLabels);
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
      expect(hpa?.spec.minReplicas ?? scaled?.spec.minReplicaCount, overlay).toBeGreaterThanOrEqual(
        2,
      );
    }
  });

  it('with KEDA, scale workers on the jobs queue the code names, as a user that may read it', () => {
    const objects = rendered.get('overlays/production/with-keda') ?? [];
    expect(rendered.get('overlays/production')?.some((o) => o.kind === 'ScaledObject')).toBe(false);
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
