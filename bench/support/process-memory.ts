/**
 * What bench/memory.ts reads of a running process: its resident memory from /proc, its TCP
 * connections to Redis, and a way to start a plain JavaScript entry point and wait until it is up.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readdir, readFile, readlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';

/** VmRSS of `pid` in bytes (the same figure as process_resident_memory_bytes). */
export async function residentBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(status.match(/^VmRSS:\s+(\d+) kB/m)?.[1] ?? 0) * 1024;
}

/** CPU seconds (user + system) `pid` has used, from /proc (clock ticks of 1/100 s). */
export async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** How many of `pid`'s sockets are TCP connections to `port` (Redis: 6379). */
export async function connectionsTo(pid: number, port: number): Promise<number> {
  const inodes = new Set<string>();
  for (const fd of await readdir(`/proc/${pid}/fd`).catch(() => [])) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    const inode = target.match(/^socket:\[(\d+)\]$/)?.[1];
    if (inode !== undefined) inodes.add(inode);
  }
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  let count = 0;
  for (const table of ['tcp', 'tcp6']) {
    const text = await readFile(`/proc/net/${table}`, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      // fields: sl local remote st ... inode (index 9); state 01 is ESTABLISHED
      if (fields[2]?.endsWith(`:${hexPort}`) && fields[3] === '01' && inodes.has(fields[9] ?? ''))
        count += 1;
    }
  }
  return count;
}

export interface Started {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly output: string[];
  stop(): Promise<void>;
}

/**
 * Runs `node <args>` from a temporary folder (no .env of the repository reaches it) and waits
 * until `ready(output)` says it is up, or fails with what it printed.
 */
export async function startNode(
  args: string[],
  env: Record<string, string>,
  ready: (output: string[]) => Promise<boolean>,
  timeoutMs = 30_000,
): Promise<Started> {
  const child = spawn(process.execPath, args, {
    cwd: tmpdir(),
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const collect = (chunk: Buffer) =>
    output.push(...chunk.toString('utf8').split('\n').filter(Boolean));
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${args[0]} exited:\n${output.join('\n')}`);
    if (await ready(output).catch(() => false)) return { child, pid: child.pid ?? 0, output, stop };
    await new Promise((r) => setTimeout(r, 100));
  }
  await stop();
  throw new Error(`${args[0]} was not up within ${timeoutMs} ms:\n${output.join('\n')}`);
}

/** True once `url` answers 200. */
export async function answers(url: string): Promise<boolean> {
  const res = await fetch(url);
  await res.arrayBuffer();
  return res.ok;
}
