/**
 * Builds what production runs: `dist/src/main.js`, one ES module bundle of Greenlight and its
 * dependencies (Bolt, BullMQ, ioredis, ...), with the deploy-step supervisor beside it and the
 * web and worker parts as chunks loaded only by the role that needs them. A process loading one
 * bundle starts on about a third less CPU than one resolving and loading some 900 files, and
 * needs no node_modules at run time.
 *
 *   node scripts/build.ts        (what `npm run build` runs after the type check)
 *
 * The test suite builds it too, before any test starts (test/support/global-setup.ts), so the
 * tests run the artifact production runs, built from the sources under test.
 */
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { rolldown } from 'rolldown';

const ROOT = new URL('../', import.meta.url).pathname;

export const MAIN_BUILT = join(ROOT, 'dist/src/main.js');

/**
 * Writes the bundle under `outDir`. Each file is written beside its place and renamed into it,
 * so a process starting while another run rebuilds reads a whole file, old or new.
 */
export async function build(outDir = join(ROOT, 'dist')): Promise<string[]> {
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
      // Fixed names (no content hash): a rebuild replaces the same files.
      entryFileNames: 'src/[name].js',
      chunkFileNames: 'src/[name].js',
    });
    const written: string[] = [];
    for (const file of output) {
      const path = join(outDir, file.fileName);
      const text = file.type === 'chunk' ? file.code : file.source;
      await mkdir(dirname(path), { recursive: true });
      const partial = `${path}.${process.pid}.partial`;
      await writeFile(partial, text);
      await rename(partial, path);
      written.push(path);
    }
    return written;
  } finally {
    await bundle.close();
  }
}

if (import.meta.main) {
  // By hand, the output folder starts empty: nothing of an older layout is left to run by mistake.
  await rm(join(ROOT, 'dist'), { recursive: true, force: true });
  const files = await build();
  process.stdout.write(`built ${files.map((f) => f.slice(ROOT.length)).join(', ')}\n`);
}
