import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type RunningGreenlight,
  spawnGreenlight,
  writeConfig,
} from '../../testkit/greenlight-process.ts';
import { freePort } from '../../testkit/ports.ts';
import { startPrivateRedis } from '../../testkit/private-redis.ts';
import { type RedisFixture, redisFixture } from '../../testkit/redis-fixture.ts';
import { eventually } from '../../testkit/release-world.ts';
import { SlackEmulator } from '../../testkit/slack-emulator.ts';
import { SlackSender } from '../../testkit/slack-sender.ts';
import { type SlotServer, startSlotServer } from '../../testkit/slot-server.ts';

const SIGNING_SECRET = 'secrets-and-ops-signing-secret';
const AUDIT_TOKEN = 'audit-token-must-never-leak-0123456789';
const HOOK_SECRET = 'webhook-hmac-secret-must-never-leak-42';
const UNLISTED = 'unlisted-cloud-credential-must-not-pass';
const TRAFFIC = new URL('../../testkit/deploy/traffic-cmd.mjs', import.meta.url).pathname;
const unique = `${process.pid}-${Math.random().toString(16).slice(2)}`;
const file = (name: string) => join(tmpdir(), `greenlight-secrets-${unique}-${name}`);

/**
 * A deploy command that prints its whole environment and a config file holding secrets (as a
 * careless tool would), records the names it saw, and fails: its output tail goes to Slack.
 */
const DEPLOY_SCRIPT = `import { readFileSync, writeFileSync } from 'node:fs';
const [namesFile, leakyFile] = process.argv.slice(2);
writeFileSync(namesFile, Object.keys(process.env).sort().join('\\n'));
console.log('env: ' + Object.entries(process.env).map(([k, v]) => k + '=' + v).join(' '));
console.log(readFileSync(leakyFile, 'utf8'));
console.error('error: deploy failed on purpose');
process.exit(1);
`;

/** The stand-in proxy CLI, recording the environment names its status command saw. */
const TRAFFIC_SCRIPT = `import { writeFileSync } from 'node:fs';
const [namesFile, ...rest] = process.argv.slice(2);
writeFileSync(namesFile, Object.keys(process.env).sort().join('\\n'));
process.argv.splice(2, process.argv.length, ...rest);
await import(${JSON.stringify(TRAFFIC)});
`;

/** Starts Greenlight and waits until the ops listener answers /healthz. */
async function startWithOps(env: Record<string, string>): Promise<RunningGreenlight> {
  const proc = spawnGreenlight(env);
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (proc.child.exitCode !== null)
      throw new Error(`Greenlight exited early:\n${proc.output.join('\n')}`);
    const up = await fetch(`http://127.0.0.1:${env.OPS_PORT}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (up) return { ...proc, url: `http://127.0.0.1:${env.PORT}`, port: Number(env.PORT) };
    await new Promise((r) => setTimeout(r, 100));
  }
  await proc.stop('SIGKILL');
  throw new Error(`Greenlight's ops port never answered:\n${proc.output.join('\n')}`);
}

const metric = async (ops: string, name: string): Promise<string> =>
  (await (await fetch(`${ops}/metrics`)).text())
    .split('\n')
    .filter((line) => line.startsWith(name))
    .join('\n');

describe('child processes see an allow-listed environment; ops endpoints on OPS_PORT', () => {
  let slack: SlackEmulator;
  let redis: RedisFixture;
  let blue: SlotServer;
  let green: SlotServer;
  let app: RunningGreenlight;
  let ops: string;

  beforeAll(async () => {
    slack = await SlackEmulator.start();
    redis = await redisFixture('secrets-ops');
    blue = await startSlotServer('blue', { version: '2.4.0' });
    green = await startSlotServer('green', { version: '0.0.0' });
    await writeFile(file('deploy.mjs'), DEPLOY_SCRIPT);
    await writeFile(file('traffic.mjs'), TRAFFIC_SCRIPT);
    await writeFile(file('leaky.conf'), `audit_token = ${AUDIT_TOKEN}\nhook = ${HOOK_SECRET}\n`);
    const traffic = (...args: string[]) =>
      JSON.stringify([
        process.execPath,
        file('traffic.mjs'),
        file('traffic-names'),
        file('traffic.json'),
        ...args,
      ]);
    const configPath = await writeConfig(`alertsChannel: C0ALERTS
roles: { lead: [U0LEAD], security: [U0SEC], team: [U0DEV1], cto: [U0CTO] }
services:
  api:
    channel: C0RELEASES
    stabilityWindowMinutes: 0
    bootstrap: { production: blue, version: 2.4.0 }
    slots: { blue: { url: "${blue.url}" }, green: { url: "${green.url}" } }
    health: { timeoutMs: 1000, intervalMs: 100, readyTimeoutSeconds: 5 }
    deploy:
      command: ${JSON.stringify([process.execPath, file('deploy.mjs'), file('deploy-names'), file('leaky.conf')])}
      timeoutSeconds: 20
      env: [DEPLOY_REGION]
    traffic:
      command: { switch: ${traffic('set', '{slot}', '{weight}')}, status: ${traffic('status')} }
  web:
    channel: C0RELEASES
    bootstrap: { production: blue, version: 1.0.0 }
    slots: { blue: { url: "http://127.0.0.1:9" }, green: { url: "http://127.0.0.1:10" } }
    deploy: { webhook: { url: "http://127.0.0.1:9/deploy", secretEnv: HOOK_SECRET } }
    traffic: { haproxy: { runtimeApi: "127.0.0.1:9", backend: web, servers: { blue: blue, green: green } } }
`);
    const opsPort = await freePort();
    app = await startWithOps({
      SLACK_BOT_TOKEN: slack.botToken,
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_API_URL: slack.apiUrl,
      REDIS_URL: redis.url,
      GREENLIGHT_KEY_PREFIX: redis.keyPrefix,
      GREENLIGHT_CONFIG: configPath,
      GREENLIGHT_AUDIT_TOKEN: AUDIT_TOKEN,
      HOOK_SECRET,
      UNLISTED_CLOUD_KEY: UNLISTED,
      DEPLOY_REGION: 'eu-west-1',
      HOME: tmpdir(),
      LANG: 'C.UTF-8',
      LC_TIME: 'C.UTF-8',
      PORT: String(await freePort()),
      OPS_PORT: String(opsPort),
    });
    ops = `http://127.0.0.1:${opsPort}`;
  });

  afterAll(async () => {
    await app?.stop();
    await blue?.close();
    await green?.close();
    await slack?.close();
    await redis?.cleanup();
  });

  it('posts a failed deploy without any secret, and the deploy saw only the allow-listed names', async () => {
    const reply = await new SlackSender(app.url, SIGNING_SECRET).slashCommand({
      command: '/bump',
      text: 'api',
      user_id: 'U0DEV1',
      response_url: slack.newResponseUrl(),
    });
    expect(reply.status).toBe(200);
    const failure = await eventually(
      () =>
        slack
          .messages('C0RELEASES')
          .map((m) => `${m.text}\n${JSON.stringify(m.blocks)}`)
          .find((text) => text.includes('deploy failed on purpose')),
      (text) => text !== undefined,
      30_000,
    );
    expect(failure).toContain('DEPLOY_REGION=eu-west-1');
    expect(failure).toContain('redacted');
    for (const secret of [AUDIT_TOKEN, HOOK_SECRET, UNLISTED, slack.botToken, SIGNING_SECRET])
      expect(failure).not.toContain(secret);
    // Nothing Greenlight sent to Slack anywhere carries a secret.
    const everything = JSON.stringify([slack.calls, slack.responses]);
    for (const secret of [AUDIT_TOKEN, HOOK_SECRET, UNLISTED])
      expect(everything).not.toContain(secret);

    const seen = (await readFile(file('deploy-names'), 'utf8')).split('\n');
    expect(seen).toEqual([
      'DEPLOY_REGION',
      'GREENLIGHT_RELEASE_ID',
      'GREENLIGHT_SERVICE',
      'GREENLIGHT_SLOT',
      'GREENLIGHT_SLOT_URL',
      'GREENLIGHT_VERSION',
      'HOME',
      'LANG',
      'LC_TIME',
      'PATH',
    ]);
  });

  it('gives the command traffic driver the same allow-listed environment', async () => {
    const seen = (await readFile(file('traffic-names'), 'utf8')).split('\n');
    expect(seen).toEqual([
      'DEPLOY_REGION',
      'GREENLIGHT_SERVICE',
      'HOME',
      'LANG',
      'LC_TIME',
      'PATH',
    ]);
  });

  it('serves /healthz, /readyz, /metrics and /audit on OPS_PORT only; the Slack port answers 404', async () => {
    for (const path of ['/healthz', '/readyz', '/metrics', '/audit']) {
      const onSlackPort = await fetch(`${app.url}${path}`, {
        headers: { authorization: `Bearer ${AUDIT_TOKEN}` },
      });
      await onSlackPort.arrayBuffer();
      expect(onSlackPort.status, `${path} on PORT`).toBe(404);
    }
    expect((await fetch(`${ops}/healthz`)).status).toBe(200);
    const ready = await fetch(`${ops}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({
      status: 'ready',
      checks: { redis: 'ok', workers: 'ok' },
    });
    expect(await metric(ops, 'greenlight_info')).toContain('role="all"');
    const audit = await fetch(`${ops}/audit`, {
      headers: { authorization: `Bearer ${AUDIT_TOKEN}` },
    });
    expect(audit.status).toBe(200);
    expect(await audit.text()).toContain('/bump api');
    // Slack's requests are not served on the ops port.
    expect((await fetch(`${ops}/slack/events`, { method: 'POST', body: '' })).status).toBe(404);
  });

  // Greenlight checks Slack on a 10 s clock started with the app above, so the Slack test
  // below ends about 30 s after that start however early it begins: a worker of its own
  // (another Greenlight, another Redis) is tried meanwhile, in time that is waited anyway.
  describe('readiness follows Redis and the workers, on a worker with OPS_PORT', () => {
    it('answers 503 naming Redis and the workers when Redis goes away', async () => {
      const slack = await SlackEmulator.start();
      const privateRedis = await startPrivateRedis(['--maxmemory-policy', 'noeviction']);
      const configPath = await writeConfig(
        await readFile(new URL('../support/fixtures/greenlight.test.yml', import.meta.url), 'utf8'),
      );
      const opsPort = await freePort();
      const worker = await startWithOps({
        SLACK_BOT_TOKEN: slack.botToken,
        SLACK_SIGNING_SECRET: SIGNING_SECRET,
        SLACK_API_URL: slack.apiUrl,
        REDIS_URL: privateRedis.url,
        GREENLIGHT_CONFIG: configPath,
        GREENLIGHT_ROLE: 'worker',
        GREENLIGHT_SHUTDOWN_TIMEOUT_MS: '2000',
        PORT: String(await freePort()),
        OPS_PORT: String(opsPort),
      });
      const ops = `http://127.0.0.1:${opsPort}`;
      try {
        // A worker listens only on its ops port.
        await expect(fetch(`${worker.url}/healthz`)).rejects.toThrow();
        expect(await (await fetch(`${ops}/readyz`)).json()).toMatchObject({
          status: 'ready',
          checks: { redis: 'ok', workers: 'ok' },
        });
        await privateRedis.stop();
        const body = await eventually(
          async () => {
            const res = await fetch(`${ops}/readyz`);
            return { status: res.status, body: (await res.json()) as Record<string, unknown> };
          },
          (r) => r.status === 503 && JSON.stringify(r.body).includes('worker connection'),
        );
        expect(body.body).toMatchObject({
          status: 'not ready',
          checks: { redis: 'redis does not answer PING' },
        });
      } finally {
        await worker.stop('SIGKILL');
        await slack.close();
      }
    }, 40_000);
  });

  it('stays ready while Slack rejects the token: a metric and a log line say so', async () => {
    await eventually(
      () => metric(ops, 'greenlight_slack_up'),
      (m) => m === 'greenlight_slack_up 1',
    );
    slack.failNext('auth.test', 'token_revoked');
    await eventually(
      async () => {
        const ready = await fetch(`${ops}/readyz`);
        expect(ready.status).toBe(200);
        return metric(ops, 'greenlight_slack_up');
      },
      (m) => m === 'greenlight_slack_up 0',
      25_000,
    );
    expect(await (await fetch(`${ops}/readyz`)).json()).toMatchObject({
      status: 'ready',
      observed: { slack: 'auth.test failed: An API error occurred: token_revoked' },
    });
    // Logged as the metric is set, but pino writes asynchronously and the line comes through a
    // pipe: on a loaded machine it may arrive after the metric was read over HTTP.
    await eventually(
      () =>
        app.logs().some((l) => l.level === 40 && String(l.msg).includes('Slack does not accept')),
      Boolean,
      10_000,
    );
    // Once Slack answers again, so does the metric.
    await eventually(
      () => metric(ops, 'greenlight_slack_up'),
      (m) => m === 'greenlight_slack_up 1',
      25_000,
    );
  }, 60_000);

  it('rate-limits failed audit authentication per address: 429 with Retry-After, counted', async () => {
    const attempt = (token: string) =>
      fetch(`${ops}/audit`, { headers: { authorization: `Bearer ${token}` } });
    for (let i = 0; i < 5; i += 1)
      expect((await attempt(`wrong-token-${i}-0123456789`)).status).toBe(401);
    const limited = await attempt('wrong-token-again-0123456789');
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(Number(limited.headers.get('retry-after'))).toBeLessThanOrEqual(60);
    // While limited, even the right token waits: guessing gains nothing.
    expect((await attempt(AUDIT_TOKEN)).status).toBe(429);
    const counted = await metric(ops, 'greenlight_audit_auth_failures_total');
    expect(counted).toContain('greenlight_audit_auth_failures_total{outcome="bad_token"} 5');
    expect(counted).toContain('greenlight_audit_auth_failures_total{outcome="rate_limited"} 2');
  });
});
