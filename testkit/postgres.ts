import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chown, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './ports.ts';

const run = promisify(execFile);

/** A PostgreSQL cluster of a test's own: Debian's binaries, a temp dir, a free loopback port. */
export interface PostgresFixture {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly database: string;
  stop(): Promise<void>;
}

/** Debian installs each major version under /usr/lib/postgresql/<major>/bin; the newest wins. */
export function postgresBin(): string {
  const root = '/usr/lib/postgresql';
  const majors = existsSync(root)
    ? readdirSync(root)
        .filter((d) => existsSync(join(root, d, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  const major = majors[0];
  if (major === undefined)
    throw new Error('PostgreSQL is not installed: apt-get install postgresql');
  return join(root, major, 'bin');
}

/**
 * initdb refuses to run as root, so as root the cluster belongs to the `postgres` user Debian's
 * package creates. Durability is off: the cluster lives as long as one test file.
 */
export async function startPostgres(): Promise<PostgresFixture> {
  const bin = postgresBin();
  const dir = await mkdtemp(join(tmpdir(), 'greenlight-pg-'));
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    await chown(dir, Number(stdout.trim()), Number(gid.trim()));
  }
  const as = (cmd: string, args: string[]) =>
    asRoot ? run('runuser', ['-u', 'postgres', '--', cmd, ...args]) : run(cmd, args);
  const data = join(dir, 'data');
  const user = 'greenlight';
  await as(join(bin, 'initdb'), ['-D', data, '-U', user, '-A', 'trust', '-E', 'UTF8', '--no-sync']);
  // A port free a moment ago can be taken before the server binds it: then another one.
  let port = 0;
  for (let attempt = 1; ; attempt += 1) {
    port = await freePort();
    const options = [
      `-p ${port}`,
      `-k ${dir}`,
      '-c listen_addresses=127.0.0.1',
      '-c fsync=off',
      '-c synchronous_commit=off',
      '-c full_page_writes=off',
    ].join(' ');
    const log = join(dir, `log-${attempt}`);
    try {
      await as(join(bin, 'pg_ctl'), ['-D', data, '-o', options, '-l', log, '-w', 'start']);
      break;
    } catch (error) {
      const said = await readFile(log, 'utf8').catch(() => '');
      if (attempt >= 5 || !said.includes('could not bind')) throw error;
    }
  }
  await as(join(bin, 'createdb'), ['-h', dir, '-p', String(port), '-U', user, 'unleash']);
  return {
    host: '127.0.0.1',
    port,
    user,
    database: 'unleash',
    async stop() {
      await as(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(
        () => undefined,
      );
      await rm(dir, { recursive: true, force: true });
    },
  };
}
