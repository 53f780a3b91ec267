import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/** Seconds each test file took in a recorded full run (see summary-reporter.ts). */
export const DURATIONS_FILE = fileURLToPath(new URL('./file-durations.json', import.meta.url));

export function recorded(): Record<string, number> {
  try {
    return JSON.parse(readFileSync(DURATIONS_FILE, 'utf8')) as Record<string, number>;
  } catch {
    return {};
  }
}

/** Before any recorded file (a comparable number, unlike Infinity). */
const FIRST = Number.MAX_SAFE_INTEGER - 1;

/**
 * Longest file first, so the run ends when its longest file does and not when a long file
 * started last does. Vitest orders by its own cache of the last run, which a clean clone (CI)
 * does not have, and then by file size, which says little here (the 16 KB Redis retention test
 * takes a second, the 9 KB Alertmanager one over a minute). The recorded table fills that gap;
 * a file in neither runs first, as Vitest runs unknown files first.
 */
export default class DurationSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const table = recorded();
    const root = this.ctx.config.root;
    const estimate = (spec: TestSpecification): number => {
      const cached = this.ctx.cache.getTestSpecificationResult(spec);
      if (cached?.failed) return FIRST + 1;
      if (cached !== undefined) return cached.duration;
      const seconds = table[relative(root, spec.moduleId)];
      return seconds === undefined ? FIRST : seconds * 1000;
    };
    const estimates = new Map(files.map((spec) => [spec, estimate(spec)]));
    return [...files].sort(
      (a, b) =>
        a.project.config.sequence.groupOrder - b.project.config.sequence.groupOrder ||
        (estimates.get(b) ?? 0) - (estimates.get(a) ?? 0),
    );
  }
}
