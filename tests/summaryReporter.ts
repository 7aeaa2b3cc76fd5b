import type { Reporter, TestModule } from 'vitest/node';

/**
 * Ends the run with one plain line, `tests: N passed, N failed, N skipped`, which CI reads
 * the same way whatever the test runner. A suite or file that fails outside any test (a
 * failing beforeAll, an import error) counts as failed: its tests show as skipped otherwise.
 */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(modules: readonly TestModule[]): void {
    const counts = { passed: 0, failed: 0, skipped: 0 };
    for (const module of modules) {
      const failedBefore = counts.failed;
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') counts.passed++;
        else if (state === 'failed') counts.failed++;
        else counts.skipped++;
      }
      for (const suite of module.children.allSuites()) {
        if (
          suite.state() === 'failed' &&
          ![...suite.children.allTests()].some((t) => t.result().state === 'failed')
        ) {
          counts.failed++;
        }
      }
      // A file that failed outside any suite (an import error) counts once.
      if (module.state() === 'failed' && counts.failed === failedBefore) counts.failed++;
    }
    process.stdout.write(
      `\ntests: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped\n`,
    );
  }
}
