import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

// Each use case names the ports it uses (`Uses<...>` from app-deps.ts), so a test hands it just
// those and a reader sees what it can touch. The whole bag stays with the composition root and
// the routers that hand it on.
const USE_CASES = join(import.meta.dirname, '..', '..', 'src', 'app', 'use-cases');

function wholeBagParameters(text: string): string[] {
  return [...text.matchAll(/^.*\b\w+\s*:\s*AppDeps\b.*$/gm)].map((m) => m[0].trim());
}

describe('use case ports', () => {
  it('finds a whole-bag parameter when there is one (the check can fail)', () => {
    expect(wholeBagParameters('export async function x(\n  deps: AppDeps,\n) {}')).toEqual([
      'deps: AppDeps,',
    ]);
    expect(wholeBagParameters("function x(deps: Uses<'store'>) {}")).toEqual([]);
  });

  it('hands no use case the whole AppDeps bag', () => {
    const files = readdirSync(USE_CASES).filter((name) => name.endsWith('.ts'));
    expect(files.length).toBeGreaterThan(5);
    const offenders = files.flatMap((name) =>
      wholeBagParameters(readFileSync(join(USE_CASES, name), 'utf8')).map((l) => `${name}: ${l}`),
    );
    expect(offenders, 'declare the ports with Uses<...> from app-deps.ts').toEqual([]);
  });
});
