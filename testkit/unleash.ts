import { type ChildProcess, spawn } from 'node:child_process';
import { freePort } from './ports.ts';
import { type PostgresFixture, startPostgres } from './postgres.ts';

const LAUNCHER = new URL('./unleash/start-unleash.mjs', import.meta.url).pathname;

/** An admin token as Unleash formats them (`<project>:<environment>.<secret>`), all projects. */
export const UNLEASH_ADMIN_TOKEN = '*:*.greenlight-test-admin-token';

/** A real unleash-server (the npm package) on a PostgreSQL of its own, on loopback ports. */
export interface UnleashFixture {
  readonly url: string;
  readonly token: string;
  /** Unleash's own view of a flag in an environment, read straight from its Admin API. */
  flag(name: string, environment: string): Promise<{ enabled: boolean; rollouts: number[] }>;
  /** Creates a flag in the `default` project (off in every environment). */
  createFlag(name: string): Promise<void>;
  /** A client (backend) token for the production environment: it may not change flags. */
  clientToken(): Promise<string>;
  /** Stops the server without closing its port (SIGSTOP): every call hangs until `resume`. */
  pause(): void;
  /** Lets a paused server run again (SIGCONT) and waits until it answers /health. */
  resume(): Promise<void>;
  /** Kills the server (an outage); its database stays. */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

async function admin(url: string, path: string, init: RequestInit = {}): Promise<unknown> {
  const response = await fetch(`${url}/api/admin${path}`, {
    ...init,
    headers: { authorization: UNLEASH_ADMIN_TOKEN, 'content-type': 'application/json' },
  });
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status} ${await response.text()}`);
  return response.status === 204 ? null : response.json().catch(() => null);
}

/**
 * `port`: one chosen beforehand (from `freePort`), so that what points at this Unleash can be
 * started while it migrates its database.
 */
export async function startUnleash(port?: number): Promise<UnleashFixture> {
  const pg: PostgresFixture = await startPostgres();
  port ??= await freePort();
  const output: string[] = [];
  const child: ChildProcess = spawn(
    process.execPath,
    [LAUNCHER, String(port), pg.host, String(pg.port), pg.user, pg.database, UNLEASH_ADMIN_TOKEN],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      // Nothing leaves the machine: no version check, no install telemetry.
      env: { ...process.env, SCARF_ANALYTICS: 'false', DO_NOT_TRACK: '1', CHECK_VERSION: 'false' },
    },
  );
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  child.stdout?.on('data', (c: Buffer) => output.push(c.toString()));
  child.stderr?.on('data', (c: Buffer) => output.push(c.toString()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 120_000;
  while (!output.join('').includes('ready ')) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      await pg.stop();
      throw new Error(`unleash-server did not start:\n${output.join('').slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  // `start()` resolves before the listener is up: ready means /health answers.
  while (
    !(await fetch(`${url}/health`).then(
      (r) => r.ok,
      () => false,
    ))
  ) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      await pg.stop();
      throw new Error(`unleash-server did not answer /health:\n${output.join('').slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const kill = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  return {
    url,
    token: UNLEASH_ADMIN_TOKEN,
    async flag(name, environment) {
      const feature = (await admin(url, `/projects/default/features/${name}`)) as {
        environments: {
          name: string;
          enabled: boolean;
          strategies: { name: string; parameters?: { rollout?: string } }[];
        }[];
      };
      const env = feature.environments.find((e) => e.name === environment);
      if (env === undefined) throw new Error(`${name} has no environment ${environment}`);
      return {
        enabled: env.enabled,
        rollouts: env.strategies
          .filter((s) => s.name === 'flexibleRollout')
          .map((s) => Number(s.parameters?.rollout)),
      };
    },
    async createFlag(name) {
      await admin(url, '/projects/default/features', {
        method: 'POST',
        body: JSON.stringify({ name }),
      });
    },
    pause() {
      child.kill('SIGSTOP');
    },
    async resume() {
      child.kill('SIGCONT');
      const until = Date.now() + 30_000;
      while (
        !(await fetch(`${url}/health`).then(
          (r) => r.ok,
          () => false,
        ))
      ) {
        if (Date.now() > until) throw new Error('unleash-server did not answer after SIGCONT');
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async clientToken() {
      const created = (await admin(url, '/api-tokens', {
        method: 'POST',
        body: JSON.stringify({
          type: 'client',
          environment: 'production',
          projects: ['*'],
          tokenName: `client-${Date.now()}`,
        }),
      })) as { secret: string };
      return created.secret;
    },
    kill,
    async stop() {
      await kill();
      await pg.stop();
    },
  };
}
