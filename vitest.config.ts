import { defineConfig } from 'vitest/config';

/**
 * Three tiers, by file suffix: `unit` (`*.test.ts`: pure logic, fakes allowed, no services:
 * `npm run test:unit`, seconds), `integration` (`*.int.test.ts`: one piece against the real
 * database, broker or tools) and `e2e` (`*.e2e.test.ts`: whole stacks over HTTP and
 * WebSocket). Only the last two bring up the infrastructure. `npm test` runs all three.
 */
const tier = (name: string, include: string, exclude: string[] = []) => ({
  extends: true as const,
  test: {
    name,
    include: [`tests/**/${include}`],
    exclude,
    ...(name === 'unit' ? {} : { globalSetup: ['tests/globalSetup.ts'] }),
  },
});

export default defineConfig({
  test: {
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 180_000,
    // List every test by name, so a skipped or missing one is visible in CI output.
    reporters: ['verbose', './tests/summaryReporter.ts'],
    projects: [
      tier('unit', '*.test.ts', ['tests/**/*.int.test.ts', 'tests/**/*.e2e.test.ts']),
      tier('integration', '*.int.test.ts'),
      tier('e2e', '*.e2e.test.ts'),
    ],
  },
});
