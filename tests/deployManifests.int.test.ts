import {
  type K8sObject,
  VALIDATORS,
  PROCESSES,
  isProcess,
  type Container,
  containerEnv,
  expectOwnUsers,
  loadWith,
  type Workload,
  type ServiceObject,
  describeShipping,
} from './helpers/deployManifests.js';
import { readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { fromRoot } from '../lib/platform/projectRoot.js';
import { ConfigError } from '../lib/platform/readEnv.js';
import { SUBGRAPHS } from '../lib/contracts/subgraphs.js';
import { topologyNames } from '../lib/broker/topology.js';

/** Offline: kustomize renders every overlay, valid, and each process gets what its config needs. */
describeShipping(
  'the Kubernetes manifests kustomize renders',
  ({ overlays, components, rendered }) => {
    it('kustomize builds the base and every overlay', () => {
      expect(overlays).toEqual(
        expect.arrayContaining(['minikube', 'local-cluster', 'production', 'production/with-keda']),
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
        return (kustomization.components ?? []).map((c) =>
          relative(root, resolve(root, overlay, c)),
        );
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
            problems.push(
              `${overlay}: ${key} ${object.metadata.name}: ${(error as Error).message}`,
            );
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
          if (!container || !isProcess(name))
            throw new Error(`${overlay}: ${name} has no container`);
          const where = `${overlay}: ${name}`;
          // The local cluster runs the image `npm run test:cluster` builds, under its own name.
          expect(container.image, where).toBe(
            overlay === 'overlays/local-cluster'
              ? 'reelflux-local/reelflux:latest'
              : 'reelflux:latest',
          );
          expect(container.args, where).toEqual([name]);

          for (const source of container.envFrom ?? [])
            expect(source.configMapRef?.name, where).toBe(configMap?.metadata.name);
          const env = containerEnv(objects, container);
          // *_FILE paths must be inside a mounted secret that holds that key.
          for (const [variable, path] of Object.entries(env)) {
            // An empty *_FILE is unset (the local cluster's MONGODB_PASSWORD_FILE).
            if (!variable.endsWith('_FILE') || path === '') continue;
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
          if (overlay === 'overlays/local-cluster') {
            // Its FerretDB stand-in has no users (k8s/overlays/local-cluster): the broker's only.
            const { amqpUrl } = config as { amqpUrl?: string };
            if (amqpUrl !== undefined)
              expect(amqpUrl, where).toMatch(new RegExp(`^amqp://${name}:`));
          } else expectOwnUsers(where, name, config);
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

    it('scales workers on the queue the code names, and drains them within the grace period', () => {
      const autoscaling = readFileSync(fromRoot('k8s', 'base', 'autoscaling.yaml'), 'utf8');
      expect(autoscaling).toContain(`queueName: ${topologyNames().queues.jobs}`);
      const worker = rendered
        .get('base')
        ?.find((o) => o.kind === 'Deployment' && o.metadata.name === 'worker') as
        | {
            spec: {
              template: {
                spec: { terminationGracePeriodSeconds: number; containers: Container[] };
              };
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

    it('fits the minikube overlay, one replica each, on a default minikube node', () => {
      // `minikube start` makes a 2-CPU node whose control plane and CoreDNS request 0.75 CPU;
      // the base's requests (2.45 CPUs) left the databases unscheduled on a real cluster.
      const millicores = (cpu: string | number | undefined) =>
        typeof cpu === 'string' && cpu.endsWith('m')
          ? Number(cpu.slice(0, -1))
          : Number(cpu ?? 0) * 1_000;
      for (const overlay of ['overlays/minikube', 'overlays/local-cluster']) {
        const workloads = (rendered.get(overlay) ?? []).filter(
          (o) => o.kind === 'Deployment' || o.kind === 'StatefulSet',
        ) as (K8sObject & {
          spec: { replicas?: number; template: { spec: { containers: Container[] } } };
        })[];
        expect(workloads.length, overlay).toBeGreaterThan(0);
        const requested = workloads
          .flatMap((w) =>
            w.spec.template.spec.containers.map(
              (c) => (w.spec.replicas ?? 1) * millicores(c.resources?.requests?.cpu),
            ),
          )
          .reduce((sum, cpu) => sum + cpu, 0);
        expect(requested, overlay).toBeLessThanOrEqual(2_000 - 750);
      }
    });

    it('rolls the router and media with a new pod ready first, and a pause before SIGTERM', () => {
      // On a real cluster a rolling restart failed requests: kube-proxy still sent connections
      // to a pod that had been told to stop, and an old pod could stop before a new one served.
      for (const [overlay, objects] of rendered) {
        for (const name of ['router', 'media']) {
          const deployment = objects.find(
            (o) => o.kind === 'Deployment' && o.metadata.name === name,
          ) as
            | (K8sObject & {
                spec: {
                  strategy?: { rollingUpdate?: { maxUnavailable?: number } };
                  template: {
                    spec: {
                      terminationGracePeriodSeconds?: number;
                      containers: { lifecycle?: { preStop?: { sleep?: { seconds: number } } } }[];
                    };
                  };
                };
              })
            | undefined;
          if (!deployment) continue;
          const where = `${overlay}: ${name}`;
          expect(deployment.spec.strategy?.rollingUpdate?.maxUnavailable, where).toBe(0);
          const pause = deployment.spec.template.spec.containers[0]?.lifecycle?.preStop?.sleep;
          expect(pause?.seconds ?? 0, where).toBeGreaterThanOrEqual(5);
          // The pause, then the process's own 10 s drain, inside the grace period (30 s default).
          const grace = deployment.spec.template.spec.terminationGracePeriodSeconds ?? 30;
          expect(grace, where).toBeGreaterThan((pause?.seconds ?? 0) + 10);
        }
      }
    });
  },
);
