import { type ChildProcess, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.ts';

const ROOT = new URL('../', import.meta.url).pathname;
/**
 * The variable naming the built entry point (`dist/src/main.js`) to run. The test suite's global
 * setup builds it and sets this; without it (the demo, the benchmarks) the sources run directly.
 */
export const GREENLIGHT_ENTRY = 'GREENLIGHT_TEST_ENTRY';
const COMPILE_CACHE = join(tmpdir(), 'greenlight-test-compile-cache');

export interface RunningGreenlight {
  readonly url: string;
  readonly port: number;
  readonly child: ChildProcess;
  /** Every line the process printed (stdout and stderr). */
  readonly output: string[];
  /** JSON log lines, parsed. */
  logs(): Record<string, unknown>[];
  /** Resolves with the exit code. */
  readonly exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export async function writeConfig(yaml: string): Promise<string> {
  const path = join(
    tmpdir(),
    `greenlight-test-${process.pid}-${Math.random().toString(16).slice(2)}.yml`,
  );
  await writeFile(path, yaml);
  return path;
}

/**
 * Runs Greenlight with the given environment: the built `dist/src/main.js` that `npm start` runs
 * when the suite has built it, else `node src/main.ts`.
 */
export function spawnGreenlight(
  env: Record<string, string>,
): Omit<RunningGreenlight, 'url' | 'port'> {
  // Not run from the repository: a developer's own .env there must not reach the tests.
  const child = spawn(process.execPath, [process.env[GREENLIGHT_ENTRY] ?? `${ROOT}src/main.ts`], {
    cwd: tmpdir(),
    env: {
      PATH: process.env.PATH ?? '',
      LOG_LEVEL: 'info',
      // Node's on-disk compile cache (keyed by each file's contents): the hundreds of Greenlight
      // processes the suite starts skip most of the type stripping and compiling at start-up.
      NODE_COMPILE_CACHE: COMPILE_CACHE,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const collect = (chunk: Buffer) =>
    output.push(...chunk.toString('utf8').split('\n').filter(Boolean));
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    output,
    exited,
    logs: () =>
      output.flatMap((line) => {
        try {
          return [JSON.parse(line) as Record<string, unknown>];
        } catch {
          return [];
        }
      }),
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/**
 * Starts Greenlight and waits until `/healthz` answers, or fails with what it printed. The wait
 * is only paid by a start that never comes: a cold start took over 20 s once, on 2 cores at a
 * load average of 20 (test files whose tests run side by side, beside other files).
 */
export async function startGreenlight(
  env: Record<string, string>,
  timeoutMs = 50_000,
): Promise<RunningGreenlight> {
  const port = env.PORT ? Number(env.PORT) : await freePort();
  const proc = spawnGreenlight({ ...env, PORT: String(port) });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  let exitCode: number | null | undefined;
  void proc.exited.then((code) => {
    exitCode = code;
  });
  while (Date.now() < deadline) {
    if (exitCode !== undefined) {
      throw new Error(
        `Greenlight exited with ${exitCode} before it was up:\n${proc.output.join('\n')}`,
      );
    }
    try {
      const res = await fetch(`${url}/healthz`);
      if (res.ok) return { ...proc, url, port };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  await proc.stop('SIGKILL');
  throw new Error(
    `Greenlight did not answer /healthz within ${timeoutMs} ms:\n${proc.output.join('\n')}`,
  );
}
