import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, expect, it } from 'vitest';

// What may lean on what, by folder. `testkit/` (the Slack emulator, the fleet, signed requests,
// in-memory ports, the manual clock) is shared by the tests, the demo and the benchmarks; `test/`
// belongs to the tests alone, and `src/` ships, so it leans on neither.
const ROOT = join(import.meta.dirname, '..', '..');
const CODE = /\.(ts|mts|cts|js|mjs|cjs)$/;

function codeFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && CODE.test(entry.name))
    .map((entry) => relative(ROOT, join(entry.parentPath, entry.name)));
}

// Every way a file reaches another by a relative path: static and dynamic imports, re-exports,
// `require`, and `new URL('…', import.meta.url)` (a script spawned or a page read counts too).
const SPECIFIERS = [
  /\bfrom\s*(['"])([^'"\n]+)\1/g,
  /\bimport\s*(['"])([^'"\n]+)\1/g,
  /\b(?:import|require)\s*\(\s*(['"`])([^'"`\n]+)\1/g,
  /\bnew\s+URL\s*\(\s*(['"`])([^'"`\n]+)\1\s*,\s*import\.meta\.url/g,
];

/** `file:line reaches <specifier>` for each relative path in `text` that lands under `folder/`. */
function reachesInto(file: string, text: string, folder: string): string[] {
  const found: string[] = [];
  for (const pattern of SPECIFIERS) {
    for (const match of text.matchAll(pattern)) {
      const specifier = match[2] ?? '';
      if (!specifier.startsWith('./') && !specifier.startsWith('../')) continue;
      const target = relative(ROOT, resolve(ROOT, dirname(file), specifier));
      if (target !== folder && !target.startsWith(`${folder}${sep}`)) continue;
      const line = text.slice(0, match.index).split('\n').length;
      found.push(`${file}:${line} reaches ${specifier}`);
    }
  }
  return found.sort();
}

function violations(dirs: string[], folders: string[]): string[] {
  return dirs.flatMap((dir) =>
    codeFiles(dir).flatMap((file) => {
      const text = readFileSync(join(ROOT, file), 'utf8');
      return folders.flatMap((folder) => reachesInto(file, text, folder));
    }),
  );
}

describe('the repository boundaries', () => {
  it('reads no file outside the repository (a fresh clone has nothing beside it)', () => {
    const files = [...codeFiles('test'), ...codeFiles('testkit')];
    expect(files.length).toBeGreaterThan(20);
    const outside = files.filter((file) =>
      // Any mention counts, a comment included: what a test leans on must be in the repository.
      /(\.\.\/)+shared\/|\/work\/shared/.test(readFileSync(join(ROOT, file), 'utf8')),
    );
    expect(outside).toEqual([]);
  });

  it('finds every way a file can reach into test/ (the check below is not blind)', () => {
    const sample = [
      "import { a } from '../test/support/a.ts';",
      "export { b } from '../test/support/b.ts';",
      "const { c } = await import(\n  '../test/support/c.ts'\n);",
      "const d = new URL('../test/support/d.mjs', import.meta.url);",
      "import { e } from '../testkit/e.ts';",
      "import { f } from './test/f.ts';",
    ].join('\n');
    expect(reachesInto('demo/sample.ts', sample, 'test')).toEqual([
      'demo/sample.ts:1 reaches ../test/support/a.ts',
      'demo/sample.ts:2 reaches ../test/support/b.ts',
      'demo/sample.ts:3 reaches ../test/support/c.ts',
      'demo/sample.ts:6 reaches ../test/support/d.mjs',
    ]);
  });

  it('lets nothing outside test/ import from test/: demo, benchmarks, testkit and src use testkit/', () => {
    expect(codeFiles('demo').length + codeFiles('bench').length).toBeGreaterThan(3);
    expect(violations(['demo', 'bench', 'src', 'testkit', 'scripts'], ['test'])).toEqual([]);
  });

  it('keeps src/ free of testkit/, demo/ and bench/ (what ships leans on nothing test-only)', () => {
    expect(violations(['src'], ['testkit', 'demo', 'bench', 'test'])).toEqual([]);
  });
});
