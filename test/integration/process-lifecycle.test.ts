import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnGreenlight, startGreenlight, writeConfig } from '../../testkit/greenlight-process.ts';
import { freePort } from '../../testkit/ports.ts';
import { startPrivateRedis } from '../../testkit/private-redis.ts';
import { type RedisFixture, redisFixture } from '../../testkit/redis-fixture.ts';
import { SlackEmulator } from '../../testkit/slack-emulator.ts';
import { slashCommandBody } from '../../testkit/slack-payloads.ts';
import { signedHeaders } from '../../testkit/slack-signing.ts';

const SIGNING_SECRET = 'lifecycle-signing-secret';

describe('the Greenlight process: start-up, roles and stopping', () => {
  let slack: SlackEmulator;
  let redis: RedisFixture;
  let configPath: string;
  let baseEnv: Record<string, string>;

  beforeAll(async () => {
    slack = await SlackEmulator.start();
    redis = await redisFixture('lifecycle');
    configPath = await writeConfig(
      await readFile(new URL('../support/fixtures/greenlight.test.yml', import.meta.url), 'utf8'),
    );
    baseEnv = {
      SLACK_BOT_TOKEN: slack.botToken,
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_API_URL: slack.apiUrl,
      REDIS_URL: redis.url,
      GREENLIGHT_KEY_PREFIX: redis.keyPrefix,
      GREENLIGHT_CONFIG: configPath,
    };
  });

  afterAll(async () => {
    await slack?.close();
    await redis?.cleanup();
  });

  it('refuses to start on an invalid greenlight.yml, listing every error with its path, exit 1', async () => {
    const broken = (await readFile(configPath, 'utf8'))
      .replace('"http://127.0.0.1:3002"', '"localhost:3002"')
      .replace('version: 2.4.0', 'version: latest')
      .replace('alertsChannel: C0ALERTS', 'alertsChannel: alerts');
    const proc = spawnGreenlight({
      ...baseEnv,
      GREENLIGHT_CONFIG: await writeConfig(broken),
      PORT: String(await freePort()),
    });
    expect(await proc.exited).toBe(1);
    const printed = proc.output.join('\n');
    expect(printed).toContain(
      'services.api.slots.green.url: expected an http(s) URL, got "localhost:3002"',
    );
    expect(printed).toContain(
      'services.api.bootstrap.version: expected a semantic version like 2.4.0, got "latest"',
    );
    expect(printed).toContain(
      'alertsChannel: expected a Slack channel id (C…), not a #name, got "alerts"',
    );
    // Validation happens before any connection opens: Slack was never called by this process.
  });

  it('refuses to start on an invalid environment, naming each variable, exit 1', async () => {
    const proc = spawnGreenlight({
      ...baseEnv,
      SLACK_BOT_TOKEN: 'token',
      GREENLIGHT_ROLE: 'both',
      PORT: 'http',
    });
    expect(await proc.exited).toBe(1);
    const printed = proc.output.join('\n');
    expect(printed).toContain('SLACK_BOT_TOKEN: expected a bot token starting with xoxb-');
    expect(printed).toContain('GREENLIGHT_ROLE: expected one of all, web, worker, got "both"');
    expect(printed).toContain('PORT: expected a port number');
  });

  it('says which Redis it cannot reach, without its password, and exits 1', async () => {
    const port = await freePort();
    const proc = spawnGreenlight({
      ...baseEnv,
      REDIS_URL: `redis://:hunter2@127.0.0.1:${port}`,
      PORT: String(await freePort()),
    });
    expect(await proc.exited).toBe(1);
    const printed = proc.output.join('\n');
    expect(printed).toContain(`cannot reach Redis at redis://:***@127.0.0.1:${port}`);
    expect(printed).toContain('Check that Redis runs there and REDIS_URL');
    expect(printed).not.toContain('hunter2');
    // One plain sentence for a person, not a JSON log line.
    expect(proc.logs().some((l) => String(l.msg).includes('cannot reach Redis'))).toBe(false);
  });

  it('reads .env from its working directory, with the real environment taking precedence', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'greenlight-dotenv-'));
    await writeFile(join(dir, '.env'), 'GREENLIGHT_ROLE=both\n');
    const run = (env: Record<string, string>) => {
      const child = spawn(
        process.execPath,
        [fileURLToPath(new URL('../../src/main.ts', import.meta.url))],
        {
          cwd: dir,
          env: { PATH: process.env.PATH ?? '', ...baseEnv, PORT: '1', ...env },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let output = '';
      child.stdout.on('data', (c: Buffer) => {
        output += c.toString();
      });
      child.stderr.on('data', (c: Buffer) => {
        output += c.toString();
      });
      return new Promise<{ code: number | null; output: string }>((resolve) =>
        child.on('exit', (code) => resolve({ code, output })),
      );
    };
    // From the file: an invalid role, refused by name.
    const fromFile = await run({});
    expect(fromFile.code).toBe(1);
    expect(fromFile.output).toContain('GREENLIGHT_ROLE');
    // The real environment wins over the file: the same value set there is what counts.
    const overridden = await run({ GREENLIGHT_ROLE: 'neither' });
    expect(overridden.code).toBe(1);
    expect(overridden.output).toContain('"neither"');
    expect(overridden.output).not.toContain('"both"');
    await rm(dir, { recursive: true, force: true });
  });

  it('stops on SIGTERM with exit 0', async () => {
    const app = await startGreenlight(baseEnv);
    expect(await app.stop('SIGTERM')).toBe(0);
    expect(app.logs().map((l) => l.msg)).toEqual(expect.arrayContaining(['stopping', 'stopped']));
  });

  it('stops on SIGINT with exit 0', async () => {
    const app = await startGreenlight(baseEnv);
    expect(await app.stop('SIGINT')).toBe(0);
  });

  it('as a worker, serves health and metrics but takes no Slack requests', async () => {
    const app = await startGreenlight({ ...baseEnv, GREENLIGHT_ROLE: 'worker' });
    try {
      expect((await fetch(`${app.url}/readyz`)).status).toBe(200);
      expect(await (await fetch(`${app.url}/metrics`)).text()).toContain(
        'greenlight_info{version="0.1.0",role="worker"} 1',
      );
      const body = slashCommandBody({ command: '/bump', response_url: slack.newResponseUrl() });
      const res = await fetch(`${app.url}/slack/events`, {
        method: 'POST',
        headers: signedHeaders(SIGNING_SECRET, body),
        body,
      });
      expect(res.status).toBe(404);
    } finally {
      expect(await app.stop()).toBe(0);
    }
  });

  it('as web only, answers Slack commands', async () => {
    const app = await startGreenlight({ ...baseEnv, GREENLIGHT_ROLE: 'web' });
    try {
      const body = slashCommandBody({ command: '/bump', response_url: slack.newResponseUrl() });
      const res = await fetch(`${app.url}/slack/events`, {
        method: 'POST',
        headers: signedHeaders(SIGNING_SECRET, body),
        body,
      });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { response_type: string }).response_type).toBe('ephemeral');
    } finally {
      expect(await app.stop()).toBe(0);
    }
  });

  it('refuses to start on a Redis that may evict keys, unless GREENLIGHT_ALLOW_EVICTION', async () => {
    const evicting = await startPrivateRedis(['--maxmemory-policy', 'allkeys-lru']);
    try {
      const refused = spawnGreenlight({
        ...baseEnv,
        PORT: String(await freePort()),
        REDIS_URL: evicting.url,
      });
      expect(await refused.exited).toBe(1);
      const said = refused.output.join('\n');
      expect(said).toContain('noeviction');
      expect(said).toContain('GREENLIGHT_ALLOW_EVICTION');

      const allowed = await startGreenlight({
        ...baseEnv,
        REDIS_URL: evicting.url,
        GREENLIGHT_ALLOW_EVICTION: '1',
      });
      expect(await allowed.stop()).toBe(0);
      const warning = allowed.logs().find((l) => String(l.msg).includes('allkeys-lru'));
      expect(warning).toMatchObject({ level: 40 });
    } finally {
      await evicting.stop();
    }
  });

  it('says plainly when Redis keeps nothing on disk, and is quiet when AOF is on', async () => {
    const volatile = await startPrivateRedis(['--maxmemory-policy', 'noeviction']);
    const durable = await startPrivateRedis([
      '--maxmemory-policy',
      'noeviction',
      '--appendonly',
      'yes',
    ]);
    try {
      const onVolatile = await startGreenlight({ ...baseEnv, REDIS_URL: volatile.url });
      await onVolatile.stop();
      expect(onVolatile.logs().some((l) => String(l.msg).includes('keeps nothing on disk'))).toBe(
        true,
      );
      const onDurable = await startGreenlight({ ...baseEnv, REDIS_URL: durable.url });
      await onDurable.stop();
      const redisWarnings = onDurable
        .logs()
        .filter((l) => l.level === 40 && /Redis|noeviction|disk/.test(String(l.msg)));
      expect(redisWarnings).toEqual([]);
    } finally {
      await volatile.stop();
      await durable.stop();
    }
  });

  it('stays ready on /readyz when Slack rejects its token: a Slack incident is no reason to leave the load balancer', async () => {
    const app = await startGreenlight(baseEnv);
    try {
      slack.failNext('auth.test', 'token_revoked');
      for (let i = 0; i < 3; i += 1) {
        const res = await fetch(`${app.url}/readyz`);
        expect(res.status).toBe(200);
        expect(await res.json()).toMatchObject({
          status: 'ready',
          checks: { redis: 'ok', workers: 'ok' },
        });
      }
    } finally {
      await app.stop();
    }
  });
});
