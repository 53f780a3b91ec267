import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.ts';

/** One silence as Alertmanager's v2 API lists it. */
export interface AlertmanagerSilence {
  id: string;
  status: { state: 'active' | 'pending' | 'expired' };
  matchers: { name: string; value: string; isRegex: boolean; isEqual?: boolean }[];
  startsAt: string;
  endsAt: string;
  createdBy: string;
  comment: string;
}

/**
 * Debian's `prometheus-alertmanager` on a loopback port, clustering off, its storage in a temp
 * directory. `stop()` and `start()` again keep the port and the storage (silences survive).
 */
export interface AlertmanagerFixture {
  readonly url: string;
  silences(): Promise<AlertmanagerSilence[]>;
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

export async function startAlertmanager(): Promise<AlertmanagerFixture> {
  const dir = await mkdtemp(join(tmpdir(), 'greenlight-alertmanager-'));
  const port = await freePort();
  await writeFile(
    join(dir, 'alertmanager.yml'),
    'route:\n  receiver: "null"\nreceivers:\n  - name: "null"\n',
  );
  const url = `http://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const start = async () => {
    const output: string[] = [];
    const proc = spawn(
      '/usr/bin/prometheus-alertmanager',
      [
        `--config.file=${join(dir, 'alertmanager.yml')}`,
        `--storage.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--cluster.listen-address=',
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child = proc;
    proc.stdout?.on('data', (c: Buffer) => output.push(c.toString()));
    proc.stderr?.on('data', (c: Buffer) => output.push(c.toString()));
    exited = new Promise<void>((resolve) => proc.on('exit', () => resolve()));
    for (let i = 0; ; i += 1) {
      if (proc.exitCode !== null) throw new Error(`alertmanager exited:\n${output.join('')}`);
      try {
        if ((await fetch(`${url}/-/ready`)).ok) return;
      } catch {
        // not listening yet
      }
      if (i > 200) throw new Error(`alertmanager did not become ready:\n${output.join('')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const stop = async () => {
    if (child !== undefined && child.exitCode === null) child.kill('SIGTERM');
    await exited;
  };
  await start();
  return {
    url,
    async silences() {
      const res = await fetch(`${url}/api/v2/silences`);
      if (!res.ok) throw new Error(`alertmanager answered ${res.status}`);
      return (await res.json()) as AlertmanagerSilence[];
    },
    stop,
    start,
    async close() {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
