import type { Reporter, TestModule } from 'vitest/node';

/** How many of the slowest files to name: where the suite's wall time goes, at a glance. */
const SLOWEST = 8;

/**
 * Prints the slowest test files, then `N passed, N failed, N skipped` alone on the last line,
 * the plain summary CI reads whatever the runner. Vitest's own summary stays above it.
 */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const counts = { passed: 0, failed: 0, skipped: 0 };
    for (const module of testModules) {
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') counts.passed += 1;
        else if (state === 'failed') counts.failed += 1;
        else counts.skipped += 1;
      }
    }
    const slowest = [...testModules]
      .map((m) => ({ file: m.relativeModuleId, seconds: m.diagnostic().duration / 1000 }))
      .sort((a, b) => b.seconds - a.seconds)
      .slice(0, SLOWEST);
    if (testModules.length > SLOWEST) {
      process.stdout.write('\nslowest test files (tests and hooks, seconds):\n');
      for (const { file, seconds } of slowest)
        process.stdout.write(`  ${seconds.toFixed(1).padStart(7)}  ${file}\n`);
    }
    process.stdout.write(
      `\n${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped\n`,
    );
  }
}
