/**
 * Builds what production runs: `dist/src/main.js`, one ES module bundle of Greenlight and its
 * dependencies (Bolt, BullMQ, ioredis, ...), with the deploy-step supervisor beside it and the
 * web and worker parts as chunks loaded only by the role that needs them, each with a source
 * map, and the licences of the bundled packages in `dist/THIRD-PARTY-LICENSES.txt`. A process
 * loading one bundle starts on about a third less CPU than one loading some 900 files, and needs
 * no node_modules at run time.
 *
 *   node scripts/build.ts        (what `npm run build` runs after the type check)
 *
 * The test suite builds it too, before any test starts (test/support/global-setup.ts), so the
 * tests run the artifact production runs, built from the sources under test.
 */
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { rolldown } from 'rolldown';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const DIST = join(ROOT, 'dist');

export const MAIN_BUILT = join(DIST, 'src/main.js');

/** Older files of another build are left this long for the processes that may still load them. */
const KEEP_OTHERS_MS = 60 * 60 * 1000;

/**
 * Writes the bundle under `dist/`, safely beside running processes and other builds:
 * - the chunks carry a hash of their contents in their names and are written before the entry
 *   points, so an entry point only ever imports the chunks of its own build;
 * - every file is written beside its place and renamed into it, so a process reads whole files;
 * - files of other builds under `dist/src` are removed only once they are an hour old.
 */
export async function build(): Promise<string[]> {
  const bundle = await rolldown({
    input: {
      main: join(ROOT, 'src/main.ts'),
      // run-argv.ts starts it from the folder of the code that runs it: the same folder.
      'argv-supervisor': join(ROOT, 'src/adapters/process/argv-supervisor.ts'),
    },
    platform: 'node',
    logLevel: 'warn',
  });
  try {
    const { output } = await bundle.generate({
      format: 'esm',
      entryFileNames: 'src/[name].js',
      chunkFileNames: 'src/[name]-[hash].js',
      // Stack traces name bundle lines; the maps lead back to the sources (`--enable-source-maps`).
      sourcemap: true,
    });
    const entries = output.filter((f) => f.type === 'chunk' && f.isEntry);
    const rest = output.filter((f) => !entries.includes(f));
    const written: string[] = [];
    const put = async (fileName: string, text: string | Uint8Array) => {
      const path = join(DIST, fileName);
      await mkdir(dirname(path), { recursive: true });
      const partial = `${path}.${process.pid}.partial`;
      await writeFile(partial, text);
      await rename(partial, path);
      written.push(path);
    };
    for (const file of rest)
      await put(file.fileName, file.type === 'chunk' ? file.code : file.source);
    await put(
      'THIRD-PARTY-LICENSES.txt',
      await licences(output.flatMap((f) => (f.type === 'chunk' ? f.moduleIds : []))),
    );
    for (const file of entries) if (file.type === 'chunk') await put(file.fileName, file.code);
    await removeOthers(new Set(written));
    return written;
  } finally {
    await bundle.close();
  }
}

/** The licence texts of every npm package with code in the bundle, one after another. */
async function licences(moduleIds: readonly string[]): Promise<string> {
  const packages = new Set<string>();
  for (const id of moduleIds) {
    const match = /^(.*\/node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(id);
    if (match?.[1]) packages.add(match[1]);
  }
  const parts: string[] = [];
  for (const dir of [...packages].sort()) {
    const pkg = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as {
      name: string;
      version: string;
      license?: string;
    };
    const names = (await readdir(dir)).filter((n) => /^(licen[cs]e|copying|notice)/i.test(n));
    const texts = await Promise.all(names.map((n) => readFile(join(dir, n), 'utf8')));
    parts.push(
      `${pkg.name} ${pkg.version} (${pkg.license ?? 'licence not stated'})\n\n${texts.join('\n') || '(no licence file in the package)'}`,
    );
  }
  return `Third-party software bundled in dist/src by scripts/build.ts\n\n${parts.join(`\n${'-'.repeat(78)}\n\n`)}`;
}

/** What a build writes under dist/src: entry points, hashed chunks, their maps, and partials. */
const BUILT_NAME = /\.js(\.map)?(\.\d+\.partial)?$/;

/** What a crashed build leaves beside `dist/THIRD-PARTY-LICENSES.txt`. */
const PARTIAL = /\.\d+\.partial$/;

async function removeOthers(keep: ReadonlySet<string>): Promise<void> {
  const now = Date.now();
  // Only what this script writes: anything else under dist/ is not its to remove.
  const bundle = await readdir(join(DIST, 'src'), { recursive: true, withFileTypes: true });
  const top = await readdir(DIST, { withFileTypes: true });
  for (const entry of [...bundle, ...top]) {
    const built = entry.parentPath === DIST ? PARTIAL : BUILT_NAME;
    if (!entry.isFile() || !built.test(entry.name)) continue;
    const path = join(entry.parentPath, entry.name);
    if (keep.has(path)) continue;
    const { mtimeMs } = await stat(path).catch(() => ({ mtimeMs: now }));
    if (now - mtimeMs > KEEP_OTHERS_MS) await rm(path, { force: true });
  }
}

if (import.meta.main) {
  const files = await build();
  process.stdout.write(`built ${files.map((f) => relative(ROOT, f)).join(', ')}\n`);
}
