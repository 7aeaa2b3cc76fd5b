import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    globalSetup: ['tests/globalSetup.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 180_000,
    // List every test by name, so a skipped or missing one is visible in CI output.
    reporters: ['verbose', './tests/summaryReporter.ts'],
  },
});
