import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

// A guard rail, not a style preference: a file a newcomer cannot hold in their head is a file
// they cannot change in an afternoon. Split by what the code holds, not at line 300.
const MAX_LINES = 300;
const ROOT = join(import.meta.dirname, '..', '..');
const SRC = join(ROOT, 'src');

// Generated files are exempt: nobody reads or edits them by hand. They say so in their first
// lines with the usual `@generated` marker.
const GENERATED = /@generated\b/;

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return tsFiles(path);
    return entry.isFile() && entry.name.endsWith('.ts') ? [path] : [];
  });
}

function lineCount(text: string): number {
  if (text === '') return 0;
  // Counted like `wc -l` (plus a last line without its newline).
  return text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
}

describe('file size', () => {
  it(`keeps every hand-written file under src/ at ${MAX_LINES} lines or fewer`, () => {
    const files = tsFiles(SRC);
    // A walk that finds nothing would pass for the wrong reason.
    expect(files.length).toBeGreaterThan(10);
    const tooLong = files
      .map((path) => ({ path, text: readFileSync(path, 'utf8') }))
      .filter(({ text }) => !GENERATED.test(text.split('\n', 5).join('\n')))
      .map(({ path, text }) => ({ file: relative(ROOT, path), lines: lineCount(text) }))
      .filter(({ lines }) => lines > MAX_LINES)
      .sort((a, b) => b.lines - a.lines)
      .map(({ file, lines }) => `${file}: ${lines} lines`);
    expect(
      tooLong,
      `files over ${MAX_LINES} lines (split them into smaller files named for what they hold):\n${tooLong.join('\n')}`,
    ).toEqual([]);
  });
});
