import { randomBytes } from 'node:crypto';
import type { Logger as BoltLogger } from '@slack/bolt';
import { WebClient } from '@slack/web-api';
import type { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { Agent } from 'undici';
import { ConfiguredDeployer } from '../adapters/deploy/configured-deployer.ts';
import { ConfiguredStepRunner } from '../adapters/deploy/configured-step-runner.ts';
import { UnleashFlagProvider } from '../adapters/flags/unleash-flag-provider.ts';
import { ConfiguredGateRunner } from '../adapters/gates/configured-gate-runner.ts';
import { GitChangeLog } from '../adapters/git/git-change-log.ts';
import { HaproxyFleetSwitcher } from '../adapters/haproxy/haproxy-fleet-switcher.ts';
import {
  HaproxyMetricsSource,
  type HaproxyStats,
} from '../adapters/haproxy/haproxy-metrics-source.ts';
import { HaproxyTrafficSwitcher } from '../adapters/haproxy/haproxy-traffic-switcher.ts';
import {
  ConfiguredMetricsSource,
  PrometheusMetricsSource,
} from '../adapters/http/prometheus-metrics-source.ts';
import { UndiciSlotProbe } from '../adapters/http/undici-slot-probe.ts';
import { serviceRuns } from '../adapters/process/service-runs.ts';
import { BullmqStepScheduler } from '../adapters/queue/bullmq-step-scheduler.ts';
import { queuePrefix } from '../adapters/queue/queue-names.ts';
import { RedisAuditLog } from '../adapters/redis/redis-audit-log.ts';
import { RedisFaultyVersions } from '../adapters/redis/redis-faulty-versions.ts';
import { RedisLocks } from '../adapters/redis/redis-locks.ts';
import { RedisStateStore } from '../adapters/redis/redis-state-store.ts';
import { SlackDirectory } from '../adapters/slack/slack-directory.ts';
import { SlackNotifier } from '../adapters/slack/slack-notifier.ts';
import {
  CommandTrafficSwitcher,
  RoutingTrafficSwitcher,
} from '../adapters/traffic/command-traffic-switcher.ts';
import type { AppDeps } from '../app/app-deps.ts';
import { ReusedGateResults } from '../app/reused-gate-results.ts';
import type { Env } from '../config/env.ts';
import type { GreenlightConfig } from '../config/greenlight-schema.ts';
import { type AppLogger, boltLoggerFrom } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import { buildComms } from './comms.ts';
import { guardsFor } from './guards.ts';
import { trafficTargets } from './traffic-targets.ts';

/** How long one outbox call to Slack may take before the message is tried again. */
const OUTBOX_SLACK_TIMEOUT_MS = 10_000;

/** What every adapter is built from: the validated env and config, and the injected world. */
export interface AdapterOptions {
  readonly env: Env;
  readonly config: GreenlightConfig;
  readonly logger: AppLogger;
  readonly metrics: Metrics;
  readonly now: () => number;
  readonly processEnv: NodeJS.ProcessEnv;
  readonly cwd: string;
}

/** The clients and stores built before start-up; none of them connects until start(). */
export interface Adapters {
  /** The shared producer connection (commands, the store, the queues). */
  readonly redis: Redis;
  readonly prefix: string;
  readonly http: Agent;
  /** One Bolt-shaped logger shared by every Slack client and the app, as Bolt names it once. */
  readonly boltLogger: BoltLogger;
  /** Slack Web API client for listeners and the directory. */
  readonly client: WebClient;
  /** Slack Web API client for the outbox worker, which retries through its own queue. */
  readonly outboxClient: WebClient;
  /** Slack Web API client for the health check. */
  readonly healthClient: WebClient;
  readonly store: RedisStateStore;
  readonly auditLog: RedisAuditLog;
  readonly directory: SlackDirectory;
  readonly traffic: RoutingTrafficSwitcher;
  /** HAProxy's counters per service, from its one instance or summed over its fleet. */
  readonly haproxyTraffic: HaproxyStats;
}

export function buildAdapters({
  env,
  config,
  logger,
  metrics,
  now,
  processEnv,
  cwd,
}: AdapterOptions): Adapters {
  const boltLogger = boltLoggerFrom(logger);
  const targets = trafficTargets(config);
  const singleTraffic = new HaproxyTrafficSwitcher(targets.haproxy);
  const fleetTraffic = new HaproxyFleetSwitcher(targets.fleets);
  const haproxyOf = (service: string) => (fleetTraffic.has(service) ? fleetTraffic : singleTraffic);
  const haproxyTraffic: HaproxyStats = {
    stats: (service, slot) => haproxyOf(service).stats(service, slot),
    startedAt: (service) => haproxyOf(service).startedAt(service),
  };
  const guards = guardsFor(config, processEnv);
  const commandTraffic = new CommandTrafficSwitcher(
    targets.commands,
    guards.children,
    cwd,
    guards.redact,
  );
  const traffic = new RoutingTrafficSwitcher(
    new Map(
      Object.keys(config.services).map((name) => [
        name,
        targets.fleets.has(name)
          ? fleetTraffic
          : targets.haproxy.has(name)
            ? singleTraffic
            : commandTraffic,
      ]),
    ),
  );

  // Producers fail fast: a command must answer "Redis is down" rather than hang past 3 s.
  const redis = new Redis(env.REDIS_URL, {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    connectTimeout: 5000,
    connectionName: `greenlight-${env.GREENLIGHT_ROLE}`,
  });
  redis.on('error', (error) => logger.warn({ err: error }, 'redis connection error'));
  const prefix = queuePrefix(env.GREENLIGHT_KEY_PREFIX);

  const client = new WebClient(env.SLACK_BOT_TOKEN, {
    slackApiUrl: env.SLACK_API_URL,
    logger: boltLogger,
  });
  // The outbox retries through its queue (in order, surviving restarts), so its client must not
  // retry or wait out rate limits on its own. Nor wait without end: it delivers one message at a
  // time, so one request Slack never answers (a half-open connection) would hold every message
  // behind it; after the timeout the message is tried again (at least once, as ever).
  const outboxClient = new WebClient(env.SLACK_BOT_TOKEN, {
    slackApiUrl: env.SLACK_API_URL,
    logger: boltLogger,
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    timeout: OUTBOX_SLACK_TIMEOUT_MS,
  });
  // Its own client: no retries and a short timeout, so a check never hangs on a Slack outage.
  const healthClient = new WebClient(env.SLACK_BOT_TOKEN, {
    slackApiUrl: env.SLACK_API_URL,
    logger: boltLogger,
    retryConfig: { retries: 0 },
    timeout: 5000,
  });
  const http = new Agent({ connections: 32, keepAliveTimeout: 10_000 });
  const store = new RedisStateStore(redis, prefix, {
    releaseDays: config.releases.retentionDays,
  });
  const auditLog = new RedisAuditLog(redis, prefix, {
    retentionDays: config.audit.retentionDays,
    now,
    // Trimming is never silent: each trim that removed entries is a warning and a count.
    onTrimmed: ({ removed, cutoffId, retentionDays }) => {
      metrics.auditTrimmed.inc(removed);
      logger.warn(
        { removed, cutoffId, cutoff: new Date(Number.parseInt(cutoffId, 10)).toISOString() },
        `trimmed ${removed} audit entries older than ${retentionDays} days (audit.retentionDays)`,
      );
    },
    onTrimFailed: (error) => logger.warn({ err: error }, 'could not trim the audit stream'),
  });
  const directory = new SlackDirectory(client, {
    onError: (group, error) =>
      logger.warn({ group, err: error }, 'could not resolve a user group; it grants nothing'),
  });
  return {
    redis,
    prefix,
    http,
    boltLogger,
    client,
    outboxClient,
    healthClient,
    store,
    auditLog,
    directory,
    traffic,
    haproxyTraffic,
  };
}

/** The queues exist only once Redis is connected: BullMQ would otherwise connect on its own. */
export interface Queues {
  readonly steps: Queue;
  readonly outbox: Queue;
}

/**
 * The ports the use cases run against, built at start-up once the queues exist.
 * `isStopping` tells a deploy killed by the stop to be abandoned, not failed.
 */
export function buildAppDeps(
  adapters: Adapters,
  queues: Queues,
  {
    config,
    logger,
    metrics,
    now,
    processEnv,
    cwd,
    isStopping,
  }: Omit<AdapterOptions, 'env'> & { readonly isStopping: () => boolean },
): AppDeps {
  const { http, store, traffic, directory, redis, prefix } = adapters;
  const guards = guardsFor(config, processEnv);
  const runs = serviceRuns(config.services, processEnv, cwd, http, guards);
  const gates = new ConfiguredGateRunner(runs);
  return {
    config,
    store,
    scheduler: new BullmqStepScheduler(queues.steps),
    notifier: new SlackNotifier(queues.outbox, config),
    traffic,
    probe: new UndiciSlotProbe(config.services, http),
    deployer: new ConfiguredDeployer(runs),
    stepRunner: new ConfiguredStepRunner(runs),
    directory,
    audit: adapters.auditLog,
    telemetry: {
      releaseEnded: (service, outcome, seconds) => {
        metrics.releases.inc({ service, outcome });
        metrics.releaseDuration.observe({ service, outcome }, seconds);
      },
      rollbackStarted: (service, trigger) => metrics.rollbacks.inc({ service, trigger }),
      approved: (service, seconds) => metrics.approvalWait.observe({ service }, seconds),
    },
    gates,
    ...flagProvider(config, processEnv, http, logger),
    dryRunGates: new ReusedGateResults(
      gates,
      (service) => (config.services[service]?.dryRunGateCacheSeconds ?? 0) * 1000,
      now,
    ),
    changes: new GitChangeLog(config.services, {
      cacheDir: processEnv.GREENLIGHT_CACHE_DIR,
      env: guards.children,
      cwd,
      redact: guards.redact,
    }),
    metrics: new ConfiguredMetricsSource(
      config.services,
      new HaproxyMetricsSource(adapters.haproxyTraffic),
      new PrometheusMetricsSource(config.services, http),
    ),
    faulty: new RedisFaultyVersions(redis, prefix),
    locks: new RedisLocks(redis, prefix),
    clock: { now: () => new Date(now()) },
    ids: { next: (kind) => `${kind}-${now().toString(36)}-${randomBytes(3).toString('hex')}` },
    log: logger,
    isStopping,
    comms: buildComms(config, {
      redis,
      prefix,
      http,
      steps: queues.steps,
      outbox: queues.outbox,
      now,
      processEnv,
      logger,
      alertmanagerFailed: (operation) => metrics.alertmanagerFailures.inc({ operation }),
    }),
  };
}

/** Unleash when `flagProviders.unleash` is set; its token is read from the variable it names. */
function flagProvider(
  config: GreenlightConfig,
  processEnv: NodeJS.ProcessEnv,
  http: Agent,
  logger: AppLogger,
): Pick<AppDeps, 'flags'> {
  const unleash = config.flagProviders.unleash;
  if (unleash === undefined) return {};
  const token = processEnv[unleash.tokenEnv] ?? '';
  if (token === '')
    logger.warn(
      { variable: unleash.tokenEnv },
      `${unleash.tokenEnv} is not set: Unleash will refuse every flag change`,
    );
  return {
    flags: new UnleashFlagProvider(
      { url: unleash.url, token, project: unleash.project, timeoutMs: unleash.timeoutMs },
      http,
    ),
  };
}
