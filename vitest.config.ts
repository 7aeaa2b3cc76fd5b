import { defineConfig } from 'vitest/config';

/**
 * Four tiers, by file suffix: `unit` (`*.test.ts`: pure logic, fakes allowed, no services:
 * `npm run test:unit`, seconds), `integration` (`*.int.test.ts`: one piece against the real
 * database, broker or tools), `e2e` (`*.e2e.test.ts`: whole stacks over HTTP and WebSocket)
 * and `containers` (`*.containers.test.ts`: the Docker image and compose file on a Docker
 * engine, `npm run test:containers`); and `cluster` (`*.cluster.test.ts`: the minikube
 * overlay on a local Kubernetes cluster, `npm run test:cluster`, not part of `npm test`). `npm test` runs the first three in one Vitest run, then
 * the containers in a second, so the image is built only once the code has passed.
 */
const tier = (name: string, include: string, exclude: string[] = [], setup?: string) => ({
  extends: true as const,
  test: {
    name,
    include: [`tests/**/${include}`],
    exclude,
    ...(setup ? { globalSetup: [setup] } : {}),
  },
});

export default defineConfig({
  test: {
    pool: 'forks',
    // graphql-ws run in process (the router's subscription server in the unit tier) must see
    // the graphql that the source sees: loaded by Node, its `import 'graphql'` gets graphql's
    // CommonJS build, while Vite gives the source the ES module one, and graphql-ws's
    // `instanceof GraphQLError` then refuses every error the router answers with.
    server: { deps: { inline: ['graphql-ws'] } },
    testTimeout: 60_000,
    hookTimeout: 180_000,
    // List every test by name, so a skipped or missing one is visible in CI output.
    reporters: ['verbose', './tests/summaryReporter.ts'],
    projects: [
      tier('unit', '*.test.ts', [
        'tests/**/*.int.test.ts',
        'tests/**/*.e2e.test.ts',
        'tests/**/*.containers.test.ts',
        'tests/**/*.cluster.test.ts',
      ]),
      tier('integration', '*.int.test.ts', [], 'tests/globalSetup.ts'),
      tier('e2e', '*.e2e.test.ts', [], 'tests/globalSetup.ts'),
      tier('containers', '*.containers.test.ts', [], 'tests/containersSetup.ts'),
      tier('cluster', '*.cluster.test.ts', [], 'tests/clusterSetup.ts'),
    ],
  },
});
