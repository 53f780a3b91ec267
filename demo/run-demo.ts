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
import { type AlertmanagerFixture, startAlertmanager } from '../testkit/alertmanager-fixture.ts';
import { startGreenlight } from '../testkit/greenlight-process.ts';
import { audienceMapPaths, startHaproxy } from '../testkit/haproxy-fixture.ts';
import { loadLoop } from '../testkit/load.ts';
import { freePort } from '../testkit/ports.ts';
import { startPrivateRedis } from '../testkit/private-redis.ts';
import { SlackEmulator } from '../testkit/slack-emulator.ts';
import { type SandboxService, sandboxRoutes } from '../testkit/slack-sandbox.ts';
import { type SlotServer, startSlotServer } from '../testkit/slot-server.ts';
import { startUnleash, type UnleashFixture } from '../testkit/unleash.ts';
import { buildDemoHistory } from './demo-history.ts';

const SIGNING_SECRET = 'demo-signing-secret-not-for-production';
const DEPLOY_SCRIPT = new URL('../testkit/deploy/deploy-slot.mjs', import.meta.url).pathname;
const MIGRATE_SCRIPT = new URL('./migrate.mjs', import.meta.url).pathname;
// The cast, as the README names it; the roles are those of the demo config below.
const USERS = [
  { id: 'U0DEV1', name: 'dana', role: 'developer', does: 'requests releases' },
  { id: 'U0DEV2', name: 'devon', role: 'team', does: 'approves a minor release' },
  { id: 'U0LEAD', name: 'lee', role: 'lead', does: 'approves a patch release' },
  { id: 'U0SEC1', name: 'sasha', role: 'security', does: 'approves a hotfix, with lead' },
  { id: 'U0CTO', name: 'chris', role: 'cto', does: 'approves a major release, with team' },
];
/** HAProxy's admin state bits for maintenance (0x01, 0x02, 0x04, 0x20) and drain (0x08, 0x10). */
const NOT_SERVING = 0x3f;

const has = (binary: string) => spawnSync('sh', ['-c', `command -v ${binary}`]).status === 0;

/** Installs what is missing when it can (root with apt), otherwise says exactly what to run. */
function ensureBinaries(needRedis: boolean): void {
  const missing = [
    ...(needRedis && !has('redis-server') ? ['redis-server'] : []),
    ...(has('haproxy') ? [] : ['haproxy']),
    ...(has('git') ? [] : ['git']),
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

/** What this run started, stopped in this order on Ctrl-C, or when start-up fails. */
const stops: (() => Promise<unknown>)[] = [];

const DEMO_FLAG = 'new-checkout';

/**
 * A real Unleash (the unleash-server devDependency on a private PostgreSQL) with one flag, when
 * Debian's postgresql is installed; without it the demo runs without flags and says how to add them.
 */
async function demoUnleash(): Promise<UnleashFixture | undefined> {
  try {
    console.log('demo: starting Unleash for the feature flag (about 10 s) …');
    const unleash = await startUnleash();
    stops.push(() => unleash.stop());
    await unleash.createFlag(DEMO_FLAG);
    return unleash;
  } catch (error) {
    console.log(
      `demo: no feature flags (${(error as Error).message.split('\n')[0]}); apt-get install postgresql to add them`,
    );
    return undefined;
  }
}

/** Matchers of the silence the demo's releases hold: alerts of the api team, while traffic moves. */
const SILENCED = [{ name: 'team', value: 'api', isRegex: false }];

/** Debian's Alertmanager, when installed, so a release's silence can be watched on the page. */
async function demoAlertmanager(): Promise<AlertmanagerFixture | undefined> {
  if (!has('prometheus-alertmanager')) {
    console.log('demo: no alert silences (apt-get install prometheus-alertmanager to add them)');
    return undefined;
  }
  const am = await startAlertmanager();
  stops.push(() => am.close());
  return am;
}

async function main(): Promise<void> {
  ensureBinaries(process.env.REDIS_URL === undefined);
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
  // A second service, web, released by rings: internal users first, then 20 %, then everyone.
  const webBlue = await startSlotServer('blue', { version: '2.0.0' });
  const webGreen = await startSlotServer('green', { version: '0.0.0' });
  stops.push(
    () => webBlue.close(),
    () => webGreen.close(),
  );
  const haproxy = await startHaproxy(
    {
      api: { blue: blue.port, green: green.port },
      web: { blue: webBlue.port, green: webGreen.port },
    },
    { audienceMapDir: runDir },
  );
  stops.push(() => haproxy.stop());
  const askAs = async (who: 'internal' | 'customer') => {
    try {
      const res = await fetch(haproxy.frontendUrl('web'), {
        headers: who === 'internal' ? { 'X-Greenlight-Ring': 'internal' } : {},
      });
      const { slot } = (await res.json()) as { slot: 'blue' | 'green' };
      const server = slot === 'green' ? webGreen : webBlue;
      return { service: 'web', slot, version: server.state.version };
    } catch (error) {
      return { error: (error as Error).message };
    }
  };

  // Which slot is which, for the page: PRODUCTION is where HAProxy sends the traffic; the "new
  // slot" is the one the latest deploy went to (STANDBY until a release switches to it).
  const slotServers: Record<'blue' | 'green', SlotServer> = { blue, green };
  const lastVersions = { blue: blue.state.version, green: green.state.version };
  let newSlot: 'blue' | 'green' = 'green';
  const watchDeploys = setInterval(() => {
    for (const slot of ['blue', 'green'] as const) {
      if (slotServers[slot].state.version !== lastVersions[slot]) newSlot = slot;
      lastVersions[slot] = slotServers[slot].state.version;
    }
  }, 200);
  watchDeploys.unref();
  stops.push(async () => clearInterval(watchDeploys));
  const unleash = await demoUnleash();
  const alertmanager = await demoAlertmanager();
  const silenceState = async (): Promise<SandboxService['silences']> => {
    const all = (await alertmanager?.silences().catch(() => [])) ?? [];
    // The newest few, so an ended release's silence stays visible for a while as "expired".
    return all
      .sort((a, b) => Date.parse(b.endsAt) - Date.parse(a.endsAt))
      .slice(0, 2)
      .map((x) => ({
        matchers: x.matchers.map((m) => `${m.name}${m.isRegex ? '=~' : '='}${m.value}`).join(', '),
        state: x.status.state,
        endsAt: x.endsAt,
      }));
  };
  const flagState = async (): Promise<SandboxService['flags']> => {
    if (unleash === undefined) return [];
    const state = await unleash.flag(DEMO_FLAG, 'production').catch(() => undefined);
    const rollout = state?.rollouts[0] ?? 100;
    return [
      {
        name: DEMO_FLAG,
        environment: 'production',
        state:
          state === undefined
            ? 'unknown (Unleash did not answer)'
            : !state.enabled
              ? 'off'
              : rollout >= 100
                ? 'on (100 %)'
                : `on for ${rollout} %`,
      },
    ];
  };
  let production: 'blue' | 'green' = 'blue';
  const service = async (): Promise<SandboxService> => {
    const servers = await haproxy.serverStates('api').catch(() => undefined);
    const weight = (slot: 'blue' | 'green') => {
      const s = servers?.[slot];
      return s && (s.admin & NOT_SERVING) === 0 ? s.weight : 0;
    };
    const total = weight('blue') + weight('green');
    // Unreachable HAProxy, nothing serving or an even split mid-switch: keep the last answer.
    if (weight('green') !== weight('blue'))
      production = weight('green') > weight('blue') ? 'green' : 'blue';
    return {
      name: 'api',
      flags: await flagState(),
      silences: await silenceState(),
      slots: (['blue', 'green'] as const).map((slot) => {
        const { state } = slotServers[slot];
        return {
          name: slot,
          role: slot === production ? 'PRODUCTION' : 'STANDBY',
          isNew: slot === newSlot,
          version: state.version,
          trafficPercent: total > 0 ? Math.round((weight(slot) / total) * 100) : 0,
          healthy: state.healthy,
          fault: { errorRate: state.errorRate, latencyMs: state.latencyMs },
        };
      }),
    };
  };

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
        { id: 'C0STAKE', name: 'stakeholders' },
      ],
      slots: { blue: blue.url, green: green.url },
      usergroups: [{ id: 'S0SECURITY', handle: 'security' }],
      service,
      askAs,
    }),
  });
  stops.push(() => (emulator as SlackEmulator).close());

  const repo = await buildDemoHistory(runDir);
  const modeFile = join(runDir, 'deploy-mode');
  await writeFile(modeFile, 'ok');
  const config = join(runDir, 'greenlight.yml');
  await writeFile(
    config,
    `# Greenlight demo: one service behind HAProxy, blue in production.
timezone: UTC
alertsChannel: C0ALERTS
# Stakeholders hear when a release starts and how it ends; alerts of the api team are silenced
# while traffic moves (when Alertmanager is installed).
comms:
  channels: [C0STAKE]
  # Seconds (about 15), not a day, so the incident-report reminder after a rollback shows up
  # while you watch the demo.
  incidentReport: { remindAfterHours: 0.004, dueHours: 48 }
${
  alertmanager
    ? `  alertmanager: { url: "${alertmanager.url}", matchers: ${JSON.stringify(SILENCED)}, leaseSeconds: 120, tailSeconds: 30 }
`
    : ''
}roles:
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
    checklists:
      pre:
        - Release notes reviewed
        - Rollback plan confirmed
        - { text: On-call engineer aware, required: false }
      post:
        - { text: Smoke test passed, owner: U0DEV1 }
        - { text: Stakeholders told, required: false }
    steps:
      migrate:
        command: ["${process.execPath}", "${MIGRATE_SCRIPT}"]
        reversible: false
        compensation: "https://example.com/runbooks/api-migration-down"
        approverRole: lead
        owner: U0LEAD
        label: "Run migration (cannot be undone)"
        timeoutSeconds: 60
    runbookUrl: "https://example.com/runbooks/api"
    changes: { git: { repo: "${repo}", webUrl: "https://github.com/example/api" } }
${
  unleash
    ? `    operators: { flag: [U0DEV1, U0DEV2, U0LEAD] }
    flags:
      - { name: ${DEMO_FLAG}, environment: production, rollout: [10, 50, 100], killSwitch: true }
`
    : ''
}  web:
    channel: C0RELEASES
    strategy: canary
    bootstrap: { production: blue, version: 2.0.0 }
    slots:
      blue: { url: "${webBlue.url}" }
      green: { url: "${webGreen.url}" }
    health: { path: /healthz, successes: 2, intervalMs: 300, readyTimeoutSeconds: 20 }
    deploy: { command: ["${process.execPath}", "${DEPLOY_SCRIPT}", "${modeFile}"], timeoutSeconds: 30 }
    traffic:
      haproxy: { runtimeApi: "${haproxy.runtimeApi}", backend: web, servers: { blue: blue, green: green }, audienceMaps: ${JSON.stringify(audienceMapPaths(runDir, 'web'))} }
    rings:
      internal: { match: { header: X-Greenlight-Ring, values: [internal] }, soakMinutes: 2 }
      early: { percent: 20, soakMinutes: 2 }
      all: { percent: 100, soakMinutes: 0 }
    analysis: { source: haproxy, maxErrorRatePercent: 1, maxP99Ms: 800, minRequests: 5, intervalSeconds: 5, consecutiveBreaches: 2 }
    stabilityWindowMinutes: 1
    checklists: { pre: [], post: [] }
    progressIntervalMinutes: 1
${
  unleash
    ? `flagProviders:
  unleash: { url: "${unleash.url}", tokenEnv: UNLEASH_ADMIN_TOKEN }
`
    : ''
}`,
  );
  const app = await startGreenlight({
    SLACK_BOT_TOKEN: emulator.botToken,
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_API_URL: emulator.apiUrl,
    REDIS_URL: redisUrl,
    GREENLIGHT_KEY_PREFIX: `demo-${process.pid}`,
    GREENLIGHT_CONFIG: config,
    GREENLIGHT_CACHE_DIR: join(runDir, 'cache'),
    PORT: String(appPort),
    LOG_LEVEL: 'info',
    ...(unleash ? { UNLEASH_ADMIN_TOKEN: unleash.token } : {}),
  });
  // The start-up lines were read while waiting for it to listen: they go to the log first.
  for (const line of app.output) log.write(`${line}\n`);
  app.child.stdout?.pipe(log);
  app.child.stderr?.pipe(log);
  stops.unshift(() => app.stop('SIGTERM'));
  // Gentle steady traffic through HAProxy, so analysis has something to judge.
  const traffic = loadLoop(haproxy.frontendUrl('api'), 1, 50);
  stops.unshift(() => traffic.stop());
  const webTraffic = loadLoop(haproxy.frontendUrl('web'), 1, 100);
  stops.unshift(() => webTraffic.stop());

  console.log(`
  Greenlight sandbox:  http://127.0.0.1:${sandboxPort}/
  Greenlight:          http://127.0.0.1:${appPort}  (log: ${logPath})
  Traffic (HAProxy):   ${haproxy.frontendUrl('api')}

  Rings: /bump web, /release web, approve as lee, then "Ask as an internal user" and
  "Ask as a customer" on the page show which version answered each.

  Try, acting as dana:  /bump api   then  /release api
  Switch to lee (lead) and click Approve; then inject "New slot: 30 % 5xx" to watch the
  automatic rollback, or type /rollback api <reason>.  Flags: /flag api new-checkout 10
  (then 50, on, off) changes it in Unleash; a rollback turns it off first.  Ctrl-C stops everything.
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

main().catch(async (error: unknown) => {
  console.error(`demo: ${(error as Error).message}`);
  for (const s of stops) await s().catch(() => undefined);
  process.exit(1);
});
