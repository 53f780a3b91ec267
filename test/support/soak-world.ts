import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import {
  type RunningGreenlight,
  startGreenlight,
  writeConfig,
} from '../../testkit/greenlight-process.ts';
import { type HaproxyFixture, startHaproxy } from '../../testkit/haproxy-fixture.ts';
import { freePort } from '../../testkit/ports.ts';
import { type PrivateRedis, startPrivateRedis } from '../../testkit/private-redis.ts';
import { SlackEmulator } from '../../testkit/slack-emulator.ts';
import { SlackSender } from '../../testkit/slack-sender.ts';
import { type SlotServer, startSlotServer } from '../../testkit/slot-server.ts';

/**
 * The soak test's world: two services (one blue/green, one canary) behind one real HAProxy, a
 * private Redis with AOF (so it can be restarted without losing anything), the Slack emulator,
 * and Greenlight as one `web` process plus `worker` processes that can be SIGKILLed and
 * replaced at any moment. A light request loop runs through each HAProxy frontend and records
 * which slot and version answered, which is what "served traffic" means to a user.
 */

export const SOAK_SIGNING_SECRET = 'soak-signing-secret';
const DEPLOY_SCRIPT = new URL('./soak-deploy.ts', import.meta.url).pathname;

export type DeployMode = 'ok' | 'fail' | 'hang' | 'slow' | 'unhealthy' | 'wrong-version';
export type Strategy = 'bluegreen' | 'canary';

export interface SoakTimings {
  /** GREENLIGHT_RECONCILE_INTERVAL_SECONDS; the sweeper runs at this interval too. */
  readonly reconcileSeconds: number;
  readonly stalledMs: number;
  readonly deployTimeoutSeconds: number;
  readonly readyTimeoutSeconds: number;
  readonly approvalMinutes: number;
  readonly switchMinutes: number;
  readonly pausedMinutes: number;
  readonly holdMinutes: number;
  readonly stabilityMinutes: number;
  readonly canarySteps: readonly number[];
  readonly minorRollbackWindowMinutes: number;
}

export const DEFAULT_TIMINGS: SoakTimings = {
  reconcileSeconds: 1,
  stalledMs: 2000,
  deployTimeoutSeconds: 4,
  readyTimeoutSeconds: 3,
  approvalMinutes: 0.5,
  switchMinutes: 0.5,
  pausedMinutes: 0.5,
  holdMinutes: 0.1,
  stabilityMinutes: 0.05,
  canarySteps: [20, 100],
  minorRollbackWindowMinutes: 0.1,
};

export interface SoakService {
  readonly name: string;
  readonly strategy: Strategy;
  readonly channel: string;
  readonly slots: { readonly blue: SlotServer; readonly green: SlotServer };
  /** How every deploy of `version` of this service behaves from now on (a bad build stays bad). */
  setDeployMode(version: string, mode: DeployMode): Promise<void>;
}

/** One line of the deploy command's record (see soak-deploy.ts). */
export interface DeployRun {
  readonly event: 'start' | 'end';
  readonly pid: number;
  readonly at: number;
  readonly service: string;
  readonly version: string;
  readonly slot: string;
  readonly releaseId: string;
  readonly mode?: string;
  /** Another deploy process for the same slot was still alive when this one started. */
  readonly concurrentWith?: number;
  /** HAProxy had this slot taking traffic when the deploy started. */
  readonly serving?: boolean;
  readonly servers?: string;
  readonly ok?: boolean;
}

/** One answer of a slot through HAProxy's frontend. */
export interface ServedSample {
  readonly at: number;
  readonly service: string;
  readonly status: number;
  readonly slot?: string;
  readonly version?: string;
}

export interface ProcessEvent {
  readonly at: number;
  readonly what: string;
}

export interface SoakWorld {
  readonly slack: SlackEmulator;
  readonly redis: PrivateRedis;
  /** A client of the test's own, for reading state, the audit stream and the queue. */
  readonly client: Redis;
  readonly steps: Queue;
  readonly haproxy: HaproxyFixture;
  readonly keyPrefix: string;
  readonly env: Record<string, string>;
  readonly sender: SlackSender;
  readonly services: Record<string, SoakService>;
  readonly timings: SoakTimings;
  /** Whether greenlight.yml carries the `deadlines` keys (a core without them refuses them). */
  readonly deadlinesConfigured: boolean;
  readonly web: RunningGreenlight;
  readonly workers: readonly RunningGreenlight[];
  /** Samples from the request loops, oldest first. */
  readonly served: ServedSample[];
  /** Every run of the deploy command so far, in order. */
  deployRuns(): Promise<DeployRun[]>;
  /** Process exits nobody asked for (a crash on a Redis restart, say), with their output. */
  readonly crashes: { at: number; role: string; code: number | null; tail: string[] }[];
  readonly events: ProcessEvent[];
  startWorker(): Promise<RunningGreenlight>;
  /** SIGKILL a worker (the caller starts a replacement). */
  killWorker(worker: RunningGreenlight): Promise<void>;
  /** SIGKILL the web process and start it again on the same port. */
  killWeb(): Promise<void>;
  /** Restarts a web process that died on its own and tops workers up to `count`. */
  ensureRunning(count: number): Promise<void>;
  /** Every line any Greenlight process printed, newest last (capped). */
  logTail(lines: number): string[];
  close(): Promise<void>;
}

const CANARY_SERVICE = 'web';
const BLUEGREEN_SERVICE = 'api';

function serviceYaml(
  name: string,
  strategy: Strategy,
  channel: string,
  blue: SlotServer,
  green: SlotServer,
  stateDir: string,
  runtimeApi: string,
  t: SoakTimings,
  deadlines: boolean,
): string {
  const lines = [
    `  ${name}:`,
    `    channel: ${channel}`,
    `    strategy: ${strategy}`,
    `    stabilityWindowMinutes: ${t.stabilityMinutes}`,
    '    bootstrap: { production: blue, version: 2.4.0 }',
    '    slots:',
    `      blue: { url: "${blue.url}" }`,
    `      green: { url: "${green.url}" }`,
    `    health: { path: /healthz, timeoutMs: 1000, successes: 2, intervalMs: 100, readyTimeoutSeconds: ${t.readyTimeoutSeconds} }`,
    `    deploy: { command: ${JSON.stringify([process.execPath, DEPLOY_SCRIPT, stateDir, runtimeApi, name])}, timeoutSeconds: ${t.deployTimeoutSeconds} }`,
    '    traffic:',
    `      haproxy: { runtimeApi: "${runtimeApi}", backend: ${name}, servers: { blue: blue, green: green }, timeoutMs: 1000 }`,
    `    runbookUrl: "https://runbooks.example.com/${name}"`,
    // Everyone the soak acts as may run every command; U0STRANGER (hostile clicks) may not.
    '    operators: [U0DEV1, U0DEV2, U0LEAD, U0CTO, U0OPS, S0SECURITY]',
    // The soak's clicks are about traffic and approvals: no checklist stands in their way.
    '    checklists: { pre: [], post: [] }',
    '    progressIntervalMinutes: 0.5',
    // Minor releases leave their rollback window fast, so /rollback must ask for an approval.
    `    releaseTypes: { minor: { approvals: [team], rollbackWindowMinutes: ${t.minorRollbackWindowMinutes} } }`,
    // A light load: a high error floor lets a healthy canary pass on a few dozen requests.
    '    analysis: { source: haproxy, maxErrorRatePercent: 10, maxP99Ms: 2000, minRequests: 0, intervalSeconds: 1, consecutiveBreaches: 2, errorRateFloorPercent: 20 }',
  ];
  if (strategy === 'canary') {
    lines.push(
      `    canary: { steps: ${JSON.stringify(t.canarySteps)}, holdMinutes: ${t.holdMinutes}, autoPromote: true }`,
    );
  }
  if (deadlines) {
    lines.push(
      `    deadlines: { approvalMinutes: ${t.approvalMinutes}, switchMinutes: ${t.switchMinutes}, pausedMinutes: ${t.pausedMinutes} }`,
    );
  }
  return lines.join('\n');
}

async function writeSoakConfig(
  specs: {
    name: string;
    strategy: Strategy;
    channel: string;
    blue: SlotServer;
    green: SlotServer;
  }[],
  stateDir: string,
  runtimeApi: string,
  t: SoakTimings,
  deadlines: boolean,
): Promise<string> {
  return writeConfig(`timezone: Europe/Berlin
alertsChannel: C0ALERTS
roles:
  lead: [U0LEAD]
  security: [S0SECURITY]
  team: [U0DEV1, U0DEV2]
  cto: [U0CTO]
services:
${specs
  .map((s) =>
    serviceYaml(s.name, s.strategy, s.channel, s.blue, s.green, stateDir, runtimeApi, t, deadlines),
  )
  .join('\n')}
`);
}

/** Requests through one HAProxy frontend in a loop, recording who answered. */
function requestLoop(
  service: string,
  url: string,
  into: ServedSample[],
  pauseMs: number,
): { stop(): Promise<void> } {
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
        // Stamped when the answer is in: HAProxy routed the request before that, so a version
        // approved later than this cannot have been routed to rightly. A stamp taken before the
        // fetch would blame a switch made while this process was starved between the two.
        const at = Date.now();
        if (res.status === 200) {
          const body = (await res.json()) as { slot?: string; version?: string };
          into.push({
            at,
            service,
            status: 200,
            slot: body.slot ?? '',
            version: body.version ?? '',
          });
        } else {
          await res.arrayBuffer();
          into.push({ at, service, status: res.status });
        }
      } catch {
        into.push({ at: Date.now(), service, status: 0 });
      }
      await new Promise((r) => setTimeout(r, pauseMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
    },
  };
}

export async function startSoakWorld(
  options: { timings?: Partial<SoakTimings>; workers?: number; loadPauseMs?: number } = {},
): Promise<SoakWorld> {
  const t: SoakTimings = { ...DEFAULT_TIMINGS, ...options.timings };
  const slack = await SlackEmulator.start({ usergroups: { S0SECURITY: ['U0SEC1'] } });
  const redis = await startPrivateRedis(['--appendonly', 'yes', '--appendfsync', 'always']);
  const keyPrefix = 'soak';
  const stateDir = await mkdtemp(join(tmpdir(), 'greenlight-soak-'));
  const modes: Record<string, DeployMode> = {};
  const specs: {
    name: string;
    strategy: Strategy;
    channel: string;
    blue: SlotServer;
    green: SlotServer;
  }[] = [];
  for (const [name, strategy, channel] of [
    [BLUEGREEN_SERVICE, 'bluegreen', 'C0API'],
    [CANARY_SERVICE, 'canary', 'C0WEB'],
  ] as const) {
    specs.push({
      name,
      strategy,
      channel,
      blue: await startSlotServer('blue', { version: '2.4.0' }),
      green: await startSlotServer('green', { version: '0.0.0' }),
    });
  }
  const haproxy = await startHaproxy(
    Object.fromEntries(specs.map((s) => [s.name, { blue: s.blue.port, green: s.green.port }])),
  );

  const env: Record<string, string> = {
    SLACK_BOT_TOKEN: slack.botToken,
    SLACK_SIGNING_SECRET: SOAK_SIGNING_SECRET,
    SLACK_API_URL: slack.apiUrl,
    REDIS_URL: redis.url,
    GREENLIGHT_KEY_PREFIX: keyPrefix,
    GREENLIGHT_RECONCILE_INTERVAL_SECONDS: String(t.reconcileSeconds),
    GREENLIGHT_STALLED_INTERVAL_MS: String(t.stalledMs),
    GREENLIGHT_SHUTDOWN_TIMEOUT_MS: '3000',
    LOG_LEVEL: process.env.GREENLIGHT_SOAK_LOG_LEVEL ?? 'info',
  };
  const crashes: SoakWorld['crashes'] = [];
  const workers: RunningGreenlight[] = [];
  const events: ProcessEvent[] = [];
  const expectedExits = new Set<RunningGreenlight>();
  const logs: string[] = [];
  const watch = (proc: RunningGreenlight, role: string) => {
    let seen = 0;
    const pump = setInterval(() => {
      for (; seen < proc.output.length; seen += 1) {
        logs.push(`[${role} ${proc.child.pid}] ${proc.output[seen]}`);
      }
      if (logs.length > 20_000) logs.splice(0, logs.length - 15_000);
    }, 500);
    void proc.exited.then((code) => {
      clearInterval(pump);
      for (; seen < proc.output.length; seen += 1)
        logs.push(`[${role} ${proc.child.pid}] ${proc.output[seen]}`);
      if (!expectedExits.has(proc)) {
        crashes.push({ at: Date.now(), role, code, tail: proc.output.slice(-30) });
        const at = workers.indexOf(proc);
        if (at >= 0) workers.splice(at, 1);
      }
    });
    return proc;
  };

  // A core that does not know the `deadlines` keys refuses the whole file: then run without them
  // (and the deadline invariant measures the defaults, which is what such a core would do).
  let deadlinesConfigured = process.env.GREENLIGHT_SOAK_DEADLINES !== '0';
  let configPath = await writeSoakConfig(
    specs,
    stateDir,
    haproxy.runtimeApi,
    t,
    deadlinesConfigured,
  );
  const webPort = await freePort();
  let web: RunningGreenlight;
  try {
    web = await startGreenlight({
      ...env,
      GREENLIGHT_CONFIG: configPath,
      GREENLIGHT_ROLE: 'web',
      PORT: String(webPort),
    });
  } catch (error) {
    if (!deadlinesConfigured || !String(error).includes('deadlines')) throw error;
    deadlinesConfigured = false;
    configPath = await writeSoakConfig(specs, stateDir, haproxy.runtimeApi, t, false);
    web = await startGreenlight({
      ...env,
      GREENLIGHT_CONFIG: configPath,
      GREENLIGHT_ROLE: 'web',
      PORT: String(webPort),
    });
  }
  env.GREENLIGHT_CONFIG = configPath;
  watch(web, 'web');
  events.push({ at: Date.now(), what: `web ${web.child.pid} started` });

  const startWorker = async () => {
    const worker = await startGreenlight({
      ...env,
      GREENLIGHT_ROLE: 'worker',
      PORT: String(await freePort()),
    });
    watch(worker, 'worker');
    workers.push(worker);
    events.push({ at: Date.now(), what: `worker ${worker.child.pid} started` });
    return worker;
  };
  for (let i = 0; i < (options.workers ?? 2); i += 1) await startWorker();

  const client = new Redis(redis.url, { maxRetriesPerRequest: null });
  client.on('error', () => undefined);
  const steps = new Queue('steps', { connection: client, prefix: `{${keyPrefix}}` });
  steps.on('error', () => undefined);

  const served: ServedSample[] = [];
  const loops = specs.map((s) =>
    requestLoop(s.name, haproxy.frontendUrl(s.name), served, options.loadPauseMs ?? 120),
  );

  const services: Record<string, SoakService> = {};
  for (const s of specs) {
    services[s.name] = {
      name: s.name,
      strategy: s.strategy,
      channel: s.channel,
      slots: { blue: s.blue, green: s.green },
      async setDeployMode(version, mode) {
        modes[`${s.name} ${version}`] = mode;
        await writeFile(join(stateDir, 'modes.json'), JSON.stringify(modes));
      },
    };
  }

  const world: SoakWorld = {
    slack,
    redis,
    client,
    steps,
    haproxy,
    keyPrefix,
    env,
    sender: new SlackSender(web.url, SOAK_SIGNING_SECRET),
    services,
    timings: t,
    deadlinesConfigured,
    get web() {
      return web;
    },
    workers,
    served,
    crashes,
    events,
    startWorker,
    async killWorker(worker) {
      expectedExits.add(worker);
      worker.child.kill('SIGKILL');
      await worker.exited;
      const at = workers.indexOf(worker);
      if (at >= 0) workers.splice(at, 1);
      events.push({ at: Date.now(), what: `worker ${worker.child.pid} SIGKILLed` });
    },
    async killWeb() {
      expectedExits.add(web);
      web.child.kill('SIGKILL');
      await web.exited;
      events.push({ at: Date.now(), what: `web ${web.child.pid} SIGKILLed` });
      web = watch(
        await startGreenlight({ ...env, GREENLIGHT_ROLE: 'web', PORT: String(webPort) }),
        'web',
      );
      events.push({ at: Date.now(), what: `web ${web.child.pid} started` });
    },
    async ensureRunning(count) {
      if (web.child.exitCode !== null || web.child.signalCode !== null) {
        web = watch(
          await startGreenlight({ ...env, GREENLIGHT_ROLE: 'web', PORT: String(webPort) }),
          'web',
        );
        events.push({ at: Date.now(), what: `web ${web.child.pid} restarted after a crash` });
      }
      while (workers.length < count) await startWorker();
    },
    logTail: (lines) => logs.slice(-lines),
    async deployRuns() {
      const text = await readFile(join(stateDir, 'runs.jsonl'), 'utf8').catch(() => '');
      return text
        .split('\n')
        .filter(Boolean)
        .flatMap((line) => {
          try {
            return [JSON.parse(line) as DeployRun];
          } catch {
            return [];
          }
        });
    },
    async close() {
      for (const loop of loops) await loop.stop();
      await steps.close().catch(() => undefined);
      client.disconnect();
      for (const proc of [web, ...workers]) {
        expectedExits.add(proc);
        await proc.stop('SIGKILL');
      }
      await haproxy.stop();
      for (const s of specs) {
        await s.blue.close();
        await s.green.close();
      }
      await slack.close();
      await redis.stop();
      await rm(stateDir, { recursive: true, force: true });
    },
  };
  return world;
}
