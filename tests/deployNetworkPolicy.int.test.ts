import {
  PROCESSES,
  isProcess,
  containerEnv,
  type NetworkPolicyObject,
  policiesFor,
  egressOf,
  destinationsOf,
  loadWith,
  type Workload,
  getObject,
  containerOf,
  describeShipping,
} from './helpers/deployManifests.js';
import { expect, it } from 'vitest';

/** Offline: who may reach the router, and where each process may connect, per overlay. */
describeShipping('network policies and who reaches whom', ({ rendered }) => {
  it('lets only the ingress controller reach the router, wherever the router believes a proxy', () => {
    for (const [overlay, objects] of rendered) {
      const router = getObject<Workload>(objects, 'Deployment', 'router');
      const labels = router.spec.template.metadata.labels;
      const hops = containerEnv(objects, containerOf(router, 'router')).TRUSTED_PROXY_HOPS;
      const rules = policiesFor(objects, labels, 'Ingress').flatMap((p) => p.spec.ingress ?? []);
      // Whoever reaches the router names its client address in X-Forwarded-For: that is the
      // ingress controller alone. Where it believes none (minikube's NodePort, and the local
      // cluster that applies minikube's overlay), anyone may.
      if (hops === '0') {
        expect(['overlays/minikube', 'overlays/local-cluster']).toContain(overlay);
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
});
