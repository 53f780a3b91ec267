/**
 * `npm run demo`: Greenlight end to end on this machine, no Slack workspace needed.
 *
 * Starts (or reuses) Redis, HAProxy in front of two demo slots, the Slack sandbox page (the
 * test suite's Web API emulator with a page on top), and Greenlight itself with a demo config,
 * exactly as in production: signed requests in, Web API calls out through SLACK_API_URL.
 * Ctrl-C stops everything it started.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { startGreenlight } from '../test/support/greenlight-process.ts';
import { startHaproxy } from '../test/support/haproxy-fixture.ts';
import { freePort } from '../test/support/ports.ts';
import { startPrivateRedis } from '../test/support/private-redis.ts';
import { loadLoop } from '../test/support/release-world.ts';
import { SlackEmulator } from '../test/support/slack-emulator.ts';
import { sandboxRoutes } from '../test/support/slack-sandbox.ts';
import { startSlotServer } from '../test/support/slot-server.ts';

const SIGNING_SECRET = 'demo-signing-secret-not-for-production';
const DEPLOY_SCRIPT = new URL('../test/support/deploy/deploy-slot.mjs', import.meta.url).pathname;
const USERS = [
  { id: 'U0DEV1', name: 'dana', role: 'developer, requester' },
  { id: 'U0DEV2', name: 'devon', role: 'developer, team' },
  { id: 'U0LEAD', name: 'lee', role: 'lead' },
  { id: 'U0SEC1', name: 'sasha', role: 'security' },
  { id: 'U0CTO', name: 'chris', role: 'cto' },
];

const has = (binary: string) => spawnSync('sh', ['-c', `command -v ${binary}`]).status === 0;

/** Installs what is missing when it can (root with apt), otherwise says exactly what to run. */
function ensureBinaries(needRedis: boolean): void {
  const missing = [
    ...(needRedis && !has('redis-server') ? ['redis-server'] : []),
    ...(has('haproxy') ? [] : ['haproxy']),
  ];
  if (missing.length === 0) return;
  const command = `apt-get install -y ${missing.join(' ')}`;
  if (process.getuid?.() === 0 && has('apt-get')) {
    console.log(`demo: installing ${missing.join(', ')} …`);
    execFileSync(
      'sh',
      ['-c', `apt-get update -qq && DEBIAN_FRONTEND=noninteractive ${command} -qq`],
      { stdio: 'inherit' },
    );
    return;
  }
  console.error(
    `demo: ${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} missing. Install with:\n  sudo ${command}`,
  );
  process.exit(1);
}

async function main(): Promise<void> {
  ensureBinaries(process.env.REDIS_URL === undefined);
  const stops: (() => Promise<unknown>)[] = [];
  // Everything this run writes lives in its own folder, removed on Ctrl-C; only the log stays,
  // under a name of its own, so a second demo (or the test suite's) never touches this one.
  const runDir = await mkdtemp(join(tmpdir(), 'greenlight-demo-'));
  const logPath = join(tmpdir(), `${basename(runDir)}.log`);
  const log = createWriteStream(logPath);
  console.log(`demo: Greenlight's log for this run: ${logPath}`);
  const redis = process.env.REDIS_URL
    ? undefined
    : await startPrivateRedis(['--maxmemory-policy', 'noeviction']);
  if (redis) stops.push(() => redis.stop());
  const redisUrl = process.env.REDIS_URL ?? redis?.url ?? '';

  const blue = await startSlotServer('blue', { version: '2.4.0' });
  const green = await startSlotServer('green', { version: '0.0.0' });
  stops.push(
    () => blue.close(),
    () => green.close(),
  );
  const haproxy = await startHaproxy({ api: { blue: blue.port, green: green.port } });
  stops.push(() => haproxy.stop());

  const appPort = await freePort();
  const sandboxPort = Number(process.env.DEMO_PORT ?? 8088);
  let emulator: SlackEmulator | undefined;
  emulator = await SlackEmulator.start({
    port: sandboxPort,
    usergroups: { S0SECURITY: ['U0SEC1'] },
    users: Object.fromEntries(USERS.map((u) => [u.id, { name: u.name }])),
    extraRoutes: sandboxRoutes(() => emulator as SlackEmulator, {
      appUrl: () => `http://127.0.0.1:${appPort}`,
      signingSecret: SIGNING_SECRET,
      users: USERS,
      channels: [
        { id: 'C0RELEASES', name: 'releases' },
        { id: 'C0ALERTS', name: 'alerts' },
      ],
      slots: { blue: blue.url, green: green.url },
    }),
  });
  stops.push(() => (emulator as SlackEmulator).close());

  const modeFile = join(runDir, 'deploy-mode');
  await writeFile(modeFile, 'ok');
  const config = join(runDir, 'greenlight.yml');
  await writeFile(
    config,
    `# Greenlight demo: one service behind HAProxy, blue in production.
timezone: UTC
alertsChannel: C0ALERTS
roles:
  lead: [U0LEAD]
  security: [S0SECURITY]
  team: [U0DEV1, U0DEV2]
  cto: [U0CTO]
services:
  api:
    channel: C0RELEASES
    strategy: bluegreen
    bootstrap: { production: blue, version: 2.4.0 }
    slots:
      blue: { url: "${blue.url}" }
      green: { url: "${green.url}" }
    health: { path: /healthz, successes: 2, intervalMs: 300, readyTimeoutSeconds: 20 }
    deploy: { command: ["${process.execPath}", "${DEPLOY_SCRIPT}", "${modeFile}"], timeoutSeconds: 30 }
    traffic:
      haproxy: { runtimeApi: "${haproxy.runtimeApi}", backend: api, servers: { blue: blue, green: green } }
    analysis: { source: haproxy, maxErrorRatePercent: 1, maxP99Ms: 800, minRequests: 5, intervalSeconds: 5, consecutiveBreaches: 2 }
    stabilityWindowMinutes: 3
    progressIntervalMinutes: 1
    runbookUrl: "https://example.com/runbooks/api"
`,
  );
  const app = await startGreenlight({
    SLACK_BOT_TOKEN: emulator.botToken,
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_API_URL: emulator.apiUrl,
    REDIS_URL: redisUrl,
    GREENLIGHT_KEY_PREFIX: `demo-${process.pid}`,
    GREENLIGHT_CONFIG: config,
    PORT: String(appPort),
    LOG_LEVEL: 'info',
  });
  // The start-up lines were read while waiting for it to listen: they go to the log first.
  for (const line of app.output) log.write(`${line}\n`);
  app.child.stdout?.pipe(log);
  app.child.stderr?.pipe(log);
  stops.unshift(() => app.stop('SIGTERM'));
  // Gentle steady traffic through HAProxy, so analysis has something to judge.
  const traffic = loadLoop(haproxy.frontendUrl('api'), 1, 50);
  stops.unshift(() => traffic.stop());

  console.log(`
  Greenlight sandbox:  http://127.0.0.1:${sandboxPort}/
  Greenlight:          http://127.0.0.1:${appPort}  (log: ${logPath})
  Traffic (HAProxy):   ${haproxy.frontendUrl('api')}

  Try, acting as dana:  /bump api   then  /release api
  Switch to lee (lead) and click Approve; then inject "green: 30 % 5xx" to watch the
  automatic rollback, or type /rollback api <reason>.  Ctrl-C stops everything.
`);

  // Last: the run's folder, once nothing uses it any more.
  stops.push(() => rm(runDir, { recursive: true, force: true }));

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    console.log('demo: stopping …');
    for (const s of stops) await s().catch(() => undefined);
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}

main().catch((error: unknown) => {
  console.error(`demo: ${(error as Error).message}`);
  process.exit(1);
});
