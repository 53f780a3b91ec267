import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './ports.ts';

/**
 * A redis-server of a test's own on a free loopback port, for what the shared Redis must not be
 * used for: other settings (eviction policy, AOF) or being stopped and restarted.
 */
export interface PrivateRedis {
  readonly url: string;
  readonly port: number;
  /** Stops redis-server (it writes its AOF on the way out) and starts it again on the same files. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startPrivateRedis(extraArgs: string[] = []): Promise<PrivateRedis> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'greenlight-redis-'));
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    dir,
    ...extraArgs,
  ];
  let child: ChildProcess;
  let exited: Promise<void>;
  const url = `redis://127.0.0.1:${port}`;
  const launch = async () => {
    child = spawn('redis-server', args, { stdio: 'ignore' });
    const current = child;
    exited = new Promise<void>((resolve) => current.on('exit', () => resolve()));
    const probe = new Redis(url, {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    probe.on('error', () => undefined);
    for (let i = 0; ; i += 1) {
      try {
        await probe.connect();
        await probe.ping();
        break;
      } catch {
        if (i > 100) throw new Error(`redis-server on port ${port} did not start`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    probe.disconnect();
  };
  await launch();
  return {
    url,
    port,
    async restart() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
      await launch();
    },
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}
