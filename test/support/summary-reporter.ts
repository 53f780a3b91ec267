import { writeFileSync } from 'node:fs';
import type { Reporter, TestModule, TestSpecification } from 'vitest/node';
import { DURATIONS_FILE, recorded } from './duration-sequencer.ts';

/** How many of the slowest files to name: where the suite's wall time goes, at a glance. */
const SLOWEST = 8;

/**
 * Prints the slowest test files, then `N passed, N failed, N skipped` alone on the last line,
 * the plain summary CI reads whatever the runner. Vitest's own summary stays above it.
 */
export default class SummaryReporter implements Reporter {
  private runStart = performance.now();
  /** When each file started and ended, in seconds since the run began: where the wall time went. */
  private readonly span = new Map<string, { from: number; to?: number }>();

  onTestRunStart(_specifications: ReadonlyArray<TestSpecification>): void {
    this.runStart = performance.now();
  }

  onTestModuleStart(module: TestModule): void {
    this.span.set(module.relativeModuleId, { from: this.now() });
  }

  onTestModuleEnd(module: TestModule): void {
    const span = this.span.get(module.relativeModuleId);
    if (span) span.to = this.now();
  }

  private now(): number {
    return (performance.now() - this.runStart) / 1000;
  }

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
    const when = (file: string) => {
      const span = this.span.get(file);
      return span?.to === undefined
        ? ''
        : `  (from ${span.from.toFixed(0)} s to ${span.to.toFixed(0)} s)`;
    };
    if (testModules.length > SLOWEST) {
      process.stdout.write('\nslowest test files (tests and hooks, seconds):\n');
      for (const { file, seconds } of slowest)
        process.stdout.write(`  ${seconds.toFixed(1).padStart(7)}  ${file}${when(file)}\n`);
      const last = [...this.span.entries()]
        .filter(([, span]) => span.to !== undefined)
        .sort((a, b) => (b[1].to ?? 0) - (a[1].to ?? 0))
        .slice(0, 3)
        .map(([file]) => `${file}${when(file)}`);
      process.stdout.write(`last to finish: ${last.join('; ')}\n`);
      if (process.env.GREENLIGHT_TIMELINE)
        writeFileSync(
          process.env.GREENLIGHT_TIMELINE,
          [...this.span.entries()]
            .map(([file, span]) => `${span.from.toFixed(1)} ${span.to?.toFixed(1)} ${file}`)
            .join('\n'),
        );
    }
    if (process.env.GREENLIGHT_RECORD_DURATIONS === '1' && counts.failed === 0)
      recordDurations(testModules);
    process.stdout.write(
      `\n${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped\n`,
    );
  }
}

/**
 * `GREENLIGHT_RECORD_DURATIONS=1 npm test` keeps the table the sequencer orders a clean clone's
 * run by (a passing run only: a failed file's time says nothing). The files run update their
 * rows; a run of some files leaves the others' rows as they were.
 */
function recordDurations(testModules: ReadonlyArray<TestModule>): void {
  const rows = { ...recorded() };
  for (const m of testModules)
    rows[m.relativeModuleId] = Math.round(m.diagnostic().duration / 100) / 10;
  const table = Object.fromEntries(Object.entries(rows).sort(([a], [b]) => (a < b ? -1 : 1)));
  writeFileSync(DURATIONS_FILE, `${JSON.stringify(table, null, 2)}\n`);
  process.stdout.write(`\ntest file durations recorded in ${DURATIONS_FILE}\n`);
}
