import { type ChildProcess, spawn } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Agent } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runDeployCommand } from '../../src/adapters/deploy/command-deployer.ts';
import { callDeployWebhook } from '../../src/adapters/deploy/webhook-deployer.ts';
import { killAllRunning, runArgv } from '../../src/adapters/process/run-argv.ts';

/** The pids a {@link sleeperCommand} writes once it runs. */
interface Pids {
  /** The supervisor: parent of the command and leader of its process group. */
  readonly supervisor: number;
  readonly command: number;
  /** A `sleep 60` the command started, as a deploy script starts helpers. */
  readonly grandchild: number;
}

/**
 * A command that starts a grandchild which sleeps, writes the pids to `pidFile` (atomically, by
 * rename) and then waits forever, or exits at once with `exit`.
 */
function sleeperCommand(pidFile: string, then: 'wait' | 'exit' = 'wait'): string[] {
  const script = `
    const { spawn } = require('node:child_process');
    const { renameSync, writeFileSync } = require('node:fs');
    const sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
    const pids = { supervisor: process.ppid, command: process.pid, grandchild: sleeper.pid };
    writeFileSync(process.argv[1] + '.tmp', JSON.stringify(pids));
    renameSync(process.argv[1] + '.tmp', process.argv[1]);
    if (process.argv[2] === 'exit') sleeper.unref(); else setInterval(() => {}, 1000);
  `;
  return [process.execPath, '-e', script, pidFile, then];
}

async function poll<T>(
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const readPids = (pidFile: string) =>
  poll(
    async () => {
      const text = await readFile(pidFile, 'utf8').catch(() => '');
      return text === '' ? undefined : (JSON.parse(text) as Pids);
    },
    20_000,
    `the command writing ${pidFile}`,
  );

/** State and process group of a pid from /proc, or undefined once it no longer exists. */
async function procStat(pid: number): Promise<{ state: string; pgrp: number } | undefined> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  // "pid (comm) state ppid pgrp ...": comm may hold spaces, so split after its closing paren.
  const [state = '', , pgrp = '0'] = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state, pgrp: Number(pgrp) };
}

/**
 * Gone: no such process (ESRCH), or a zombie, dead and only waiting for whoever adopted it to
 * reap it (this container's init may not reap promptly).
 */
async function isGone(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return true;
    throw error;
  }
  return (await procStat(pid))?.state === 'Z';
}

const allGone = (pids: readonly number[], timeoutMs = 3000) =>
  poll(
    async () => ((await Promise.all(pids.map(isGone))).every(Boolean) ? true : undefined),
    timeoutMs,
    `pids ${pids.join(', ')} to be gone`,
  );

describe('runArgv: a supervised process group', () => {
  let dir: string;
  let n = 0;
  const strays: number[] = [];
  const children: ChildProcess[] = [];
  const options = () => ({
    env: process.env,
    cwd: dir,
    timeoutSeconds: 60,
    label: 'test command',
  });
  const pidFile = () => {
    n += 1;
    return join(dir, `pids-${n}.json`);
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'greenlight-argv-'));
  });

  afterEach(() => {
    for (const pid of strays.splice(0)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone, as it should be
      }
    }
    for (const child of children.splice(0)) child.kill('SIGKILL');
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('kills the whole group when the process that ran it is SIGKILLed', async () => {
    const file = pidFile();
    const runner = spawn(
      process.execPath,
      [
        new URL('../support/run-argv-child.ts', import.meta.url).pathname,
        file,
        ...sleeperCommand(file),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    children.push(runner);
    const lines = createInterface({ input: runner.stdout });
    const first = await new Promise<string>((resolve, reject) => {
      lines.once('line', resolve);
      runner.once('exit', (code) => reject(new Error(`runner exited with ${code}`)));
    });
    const pids = JSON.parse(first) as Pids & { runner: number };
    strays.push(pids.supervisor, pids.command, pids.grandchild);

    // The supervisor leads a group of its own holding the command and the grandchild.
    expect((await procStat(pids.supervisor))?.pgrp).toBe(pids.supervisor);
    expect((await procStat(pids.command))?.pgrp).toBe(pids.supervisor);
    expect((await procStat(pids.grandchild))?.pgrp).toBe(pids.supervisor);
    expect(await isGone(pids.grandchild)).toBe(false);

    runner.kill('SIGKILL');
    await allGone([pids.supervisor, pids.command, pids.grandchild]);
  });

  it('kills the whole group at once when its AbortSignal fires, and says it was cancelled', async () => {
    const file = pidFile();
    const controller = new AbortController();
    const running = runArgv(sleeperCommand(file), { ...options(), signal: controller.signal });
    const pids = await readPids(file);
    strays.push(pids.command, pids.grandchild);
    expect(await isGone(pids.grandchild)).toBe(false);

    controller.abort();
    const result = await running;
    expect(result).toMatchObject({ ok: false, reason: 'test command was cancelled' });
    await allGone([pids.supervisor, pids.command, pids.grandchild]);
  });

  it('starts nothing when the signal is already aborted', async () => {
    const file = pidFile();
    const result = await runArgv(sleeperCommand(file), {
      ...options(),
      signal: AbortSignal.abort(),
    });
    expect(result).toEqual({ ok: false, reason: 'test command was cancelled', output: '' });
    await new Promise((resolve) => setTimeout(resolve, 500));
    await expect(readFile(file, 'utf8')).rejects.toThrow(/ENOENT/);
  });

  it('kills the whole group on timeout, with the reason it always gave', async () => {
    const file = pidFile();
    const running = runArgv(sleeperCommand(file), { ...options(), timeoutSeconds: 2 });
    const pids = await readPids(file);
    strays.push(pids.command, pids.grandchild);
    const result = await running;
    expect(result).toMatchObject({
      ok: false,
      reason: 'test command timed out after 2 s and was killed',
    });
    await allGone([pids.supervisor, pids.command, pids.grandchild]);
  });

  it('kills every running group on killAllRunning, for a stop that cannot wait', async () => {
    const file = pidFile();
    const running = runArgv(sleeperCommand(file), options());
    const pids = await readPids(file);
    strays.push(pids.command, pids.grandchild);

    expect(killAllRunning()).toBe(1);
    expect(await running).toMatchObject({
      ok: false,
      reason: 'test command was killed by SIGKILL',
    });
    await allGone([pids.supervisor, pids.command, pids.grandchild]);
    expect(killAllRunning()).toBe(0);
  });

  it('says a missing program was not found', async () => {
    expect(await runArgv(['/nonexistent/deploy.sh', '--flag'], options())).toEqual({
      ok: false,
      reason: 'test command not found: /nonexistent/deploy.sh',
      output: '',
    });
    expect(await runArgv(['no-such-program-greenlight'], options())).toMatchObject({
      reason: 'test command not found: no-such-program-greenlight',
    });
  });

  it('says a program without the execute bit is not executable', async () => {
    const script = join(dir, 'deploy.sh');
    await writeFile(script, '#!/bin/sh\necho hi\n');
    await chmod(script, 0o644);
    expect(await runArgv(['./deploy.sh'], options())).toEqual({
      ok: false,
      reason: 'test command is not executable: ./deploy.sh',
      output: '',
    });
  });

  it('passes the exit code, environment, working directory and both output streams through', async () => {
    const result = await runArgv(
      [
        process.execPath,
        '-e',
        'console.log(process.env.GREENLIGHT_VERSION, process.cwd()); console.error("to stderr"); process.exit(3)',
      ],
      { ...options(), env: { ...process.env, GREENLIGHT_VERSION: '2.4.1' } },
    );
    expect(result.ok).toBe(false);
    expect(result.reason).toBe('test command exited with code 3');
    expect(result.output).toContain(`2.4.1 ${dir}`);
    expect(result.output).toContain('to stderr');

    expect(await runArgv([process.execPath, '-e', 'console.log("fine")'], options())).toEqual({
      ok: true,
      reason: '',
      output: 'fine\n',
    });
  });

  it('passes arguments verbatim, with no shell to interpret them', async () => {
    const hostile = '$(touch pwned); `touch pwned`; rm -rf / && echo "|"';
    const result = await runArgv(
      [process.execPath, '-e', 'console.log(process.argv[1])', hostile],
      options(),
    );
    expect(result.output).toBe(`${hostile}\n`);
    await expect(readFile(join(dir, 'pwned'))).rejects.toThrow(/ENOENT/);
  });

  it('names the signal that killed the command', async () => {
    const result = await runArgv(
      [process.execPath, '-e', 'process.kill(process.pid, "SIGTERM")'],
      options(),
    );
    expect(result).toMatchObject({ ok: false, reason: 'test command was killed by SIGTERM' });
  });

  it('returns when the command exits, though a helper it left behind still runs', async () => {
    // The helper holds none of the command's output: the report channel must not leak to it
    // either, or runArgv would wait for the helper until the timeout.
    const file = pidFile();
    const started = Date.now();
    const result = await runArgv(sleeperCommand(file, 'exit'), {
      ...options(),
      timeoutSeconds: 30,
    });
    const pids = await readPids(file);
    strays.push(pids.grandchild);
    expect(result).toMatchObject({ ok: true });
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(await isGone(pids.grandchild)).toBe(false);
  });
});

describe('deployers: DeployRequest.signal cancels a running deploy', () => {
  const request = (signal: AbortSignal) => ({
    service: 'api',
    version: '2.4.1',
    slot: 'green' as const,
    releaseId: 'r-1',
    signal,
  });

  it('kills a deploy command and says it was cancelled', async () => {
    const controller = new AbortController();
    const running = runDeployCommand(
      {
        argv: [process.execPath, '-e', 'console.log("deploying"); setInterval(() => {}, 1000)'],
        timeoutSeconds: 60,
        slotUrl: 'http://127.0.0.1:1',
        cwd: tmpdir(),
        env: (step) => ({ ...process.env, ...step }),
      },
      request(controller.signal),
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    controller.abort();
    expect(await running).toMatchObject({ ok: false, reason: 'deploy command was cancelled' });
  });

  it('abandons a deploy webhook that has not answered yet', async () => {
    const server = createServer(() => {
      // never answers
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const dispatcher = new Agent();
    try {
      const controller = new AbortController();
      const running = callDeployWebhook(
        {
          url: `http://127.0.0.1:${port}/deploy`,
          secret: 'webhook-secret',
          timeoutSeconds: 60,
          slotUrl: 'http://127.0.0.1:1',
        },
        request(controller.signal),
        dispatcher,
      );
      await new Promise((resolve) => setTimeout(resolve, 300));
      controller.abort();
      expect(await running).toEqual({
        ok: false,
        reason: 'deploy webhook was cancelled',
        outputTail: '',
      });
    } finally {
      await dispatcher.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
