import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import { App, HTTPReceiver, type Receiver, SocketModeReceiver } from '@slack/bolt';
import { WebClient } from '@slack/web-api';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { Agent } from 'undici';
import { ConfiguredDeployer } from './adapters/deploy/configured-deployer.ts';
import { ConfiguredGateRunner } from './adapters/gates/configured-gate-runner.ts';
import { HaproxyMetricsSource } from './adapters/haproxy/haproxy-metrics-source.ts';
import { HaproxyRuntimeApi } from './adapters/haproxy/haproxy-runtime-api.ts';
import {
  type HaproxyServiceTraffic,
  HaproxyTrafficSwitcher,
} from './adapters/haproxy/haproxy-traffic-switcher.ts';
import { auditRoute } from './adapters/http/audit-route.ts';
import { FailureRateLimit } from './adapters/http/failure-rate-limit.ts';
import { opsRoutes, type ReadinessCheck } from './adapters/http/ops-routes.ts';
import { createOpsServer } from './adapters/http/ops-server.ts';
import {
  ConfiguredMetricsSource,
  PrometheusMetricsSource,
} from './adapters/http/prometheus-metrics-source.ts';
import { UndiciSlotProbe } from './adapters/http/undici-slot-probe.ts';
import { ChildEnvironments } from './adapters/process/child-env.ts';
import { killAllRunning } from './adapters/process/run-argv.ts';
import { configuredSecrets, secretRedactor } from './adapters/process/secret-redactor.ts';
import { BullmqStepScheduler } from './adapters/queue/bullmq-step-scheduler.ts';
import { type JobHandlers, routeJobs } from './adapters/queue/job-router.ts';
import { QUEUE_NAMES, queuePrefix } from './adapters/queue/queue-names.ts';
import { controlLoopPass, RECONCILE_JOB, stepHandlers } from './adapters/queue/step-handlers.ts';
import { RedisAuditLog } from './adapters/redis/redis-audit-log.ts';
import { checkRedisForStartup, redisIsReachable } from './adapters/redis/redis-checks.ts';
import { RedisDeliveryLog } from './adapters/redis/redis-delivery-log.ts';
import { RedisFaultyVersions } from './adapters/redis/redis-faulty-versions.ts';
import { RedisLocks } from './adapters/redis/redis-locks.ts';
import { RedisStateStore } from './adapters/redis/redis-state-store.ts';
import { registerActionListeners } from './adapters/slack/action-listeners.ts';
import { registerCommandListeners } from './adapters/slack/command-listeners.ts';
import { deliveryHeaders, registerDeliveryGuard } from './adapters/slack/delivery-guard.ts';
import { outboxHandler } from './adapters/slack/outbox-worker.ts';
import { SlackDirectory } from './adapters/slack/slack-directory.ts';
import { SlackHealth } from './adapters/slack/slack-health.ts';
import { SlackNotifier } from './adapters/slack/slack-notifier.ts';
import {
  type CommandTraffic,
  CommandTrafficSwitcher,
  RoutingTrafficSwitcher,
} from './adapters/traffic/command-traffic-switcher.ts';
import type { AppDeps } from './app/app-deps.ts';
import { checkClick, dispatchAction } from './app/dispatch-action.ts';
import { dispatchCommand } from './app/dispatch-command.ts';
import { ReusedGateResults } from './app/reused-gate-results.ts';
import { type Env, usesSocketMode } from './config/env.ts';
import type { GreenlightConfig } from './config/greenlight-schema.ts';
import { type AppLogger, boltLoggerFrom } from './logger.ts';
import { createMetrics, type Metrics } from './metrics.ts';

export const VERSION = '0.1.0';

/** Start-up cannot go on because of something outside Greenlight; the message says what to do. */
export class StartupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StartupError';
  }
}

export interface Greenlight {
  readonly metrics: Metrics;
  start(): Promise<void>;
  /** Stops taking work, lets running jobs finish within the env's bound, closes Redis. */
  stop(): Promise<void>;
}

export interface ComposeOptions {
  readonly env: Env;
  readonly config: GreenlightConfig;
  readonly logger: AppLogger;
  readonly now?: () => number;
  /**
   * Greenlight's own environment: webhook secrets are read from it, and child processes get its
   * allow-listed part only (PATH, HOME, locale, what `deploy.env` names).
   */
  readonly processEnv?: NodeJS.ProcessEnv;
  /** Where relative deploy commands resolve: the directory of greenlight.yml. */
  readonly cwd?: string;
}

/** How long a Slack health result counts as current (and how often it is checked). */
const SLACK_HEALTH_FRESH_MS = 10_000;

/** Resolves after `ms` with `onTimeout()`'s value, so a hung close cannot hold the process. */
function within<T>(promise: Promise<T>, ms: number, onTimeout: () => T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(onTimeout()), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function redactedRedisUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}

/** HAProxy targets and command drivers, by service, from greenlight.yml. */
function trafficTargets(config: GreenlightConfig): {
  haproxy: Map<string, HaproxyServiceTraffic>;
  commands: Map<string, CommandTraffic>;
} {
  const haproxy = new Map<string, HaproxyServiceTraffic>();
  const commands = new Map<string, CommandTraffic>();
  for (const [name, service] of Object.entries(config.services)) {
    if ('haproxy' in service.traffic) {
      const { runtimeApi, backend, servers, timeoutMs } = service.traffic.haproxy;
      haproxy.set(name, { api: new HaproxyRuntimeApi(runtimeApi, timeoutMs), backend, servers });
    } else {
      commands.set(name, service.traffic.command);
    }
  }
  return { haproxy, commands };
}

/** The one composition root: the only place that constructs Bolt, BullMQ, ioredis and clients. */
export function compose({
  env,
  config,
  logger,
  now = Date.now,
  processEnv = process.env,
  cwd = process.cwd(),
}: ComposeOptions): Greenlight {
  const role = env.GREENLIGHT_ROLE;
  const runsWeb = role === 'all' || role === 'web';
  const runsWorkers = role === 'all' || role === 'worker';
  const services = Object.keys(config.services).sort();
  const metrics = createMetrics();
  metrics.info.set({ version: VERSION, role }, 1);
  const boltLogger = boltLoggerFrom(logger);
  const targets = trafficTargets(config);
  const haproxyTraffic = new HaproxyTrafficSwitcher(targets.haproxy);
  const commandTraffic = new CommandTrafficSwitcher(
    targets.commands,
    new ChildEnvironments(processEnv, config.services),
    cwd,
    secretRedactor(configuredSecrets(processEnv, config.services)),
  );
  const traffic = new RoutingTrafficSwitcher(
    new Map(
      Object.keys(config.services).map((name) => [
        name,
        targets.haproxy.has(name) ? haproxyTraffic : commandTraffic,
      ]),
    ),
  );

  // Producers fail fast: a command must answer "Redis is down" rather than hang past 3 s.
  const redis = new Redis(env.REDIS_URL, {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    connectTimeout: 5000,
    connectionName: `greenlight-${role}`,
  });
  redis.on('error', (error) => logger.warn({ err: error }, 'redis connection error'));
  const prefix = queuePrefix(env.GREENLIGHT_KEY_PREFIX);
  // Created once Redis is connected: BullMQ would otherwise start connecting on its own.
  let stepsQueue: Queue | undefined;
  let outboxQueue: Queue | undefined;

  const client = new WebClient(env.SLACK_BOT_TOKEN, {
    slackApiUrl: env.SLACK_API_URL,
    logger: boltLogger,
  });
  // The outbox retries through its queue (in order, surviving restarts), so its client must not
  // retry or wait out rate limits on its own.
  const outboxClient = new WebClient(env.SLACK_BOT_TOKEN, {
    slackApiUrl: env.SLACK_API_URL,
    logger: boltLogger,
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
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

  let deps: AppDeps | undefined;
  const appDeps = (): AppDeps => {
    if (deps === undefined) throw new Error('Greenlight is not started yet');
    return deps;
  };

  const workers: Worker[] = [];
  const workerConnections: Redis[] = [];
  /** Set once stop() begins: a deploy killed by the stop is abandoned, not failed. */
  let stopping = false;

  // Readiness is what this process needs to do its work: Redis, and (where workers run) workers
  // that can take jobs. Slack is watched, not waited for: see SlackHealth.
  const checks: ReadinessCheck[] = [
    {
      name: 'redis',
      check: async () =>
        (await redisIsReachable(redis)) ? undefined : 'redis does not answer PING',
    },
  ];
  if (runsWorkers) {
    checks.push({
      name: 'workers',
      check: async () => {
        if (stopping) return 'stopping: taking no new jobs';
        if (workers.length === 0) return 'workers not started yet';
        const idle = workers.filter((w) => !w.isRunning() || w.closing !== undefined);
        if (idle.length > 0) return `not running: ${idle.map((w) => w.name).join(', ')}`;
        const offline = workerConnections.filter((c) => c.status !== 'ready');
        if (offline.length > 0)
          return `${offline.length} worker connection(s) to Redis are ${offline.map((c) => c.status).join(', ')}`;
        return undefined;
      },
    });
  }
  // Its own client: no retries and a short timeout, so a check never hangs on a Slack outage.
  const healthClient = new WebClient(env.SLACK_BOT_TOKEN, {
    slackApiUrl: env.SLACK_API_URL,
    logger: boltLogger,
    retryConfig: { retries: 0 },
    timeout: 5000,
  });
  const slackHealth = new SlackHealth({
    probe: async () => {
      await healthClient.auth.test();
    },
    report: (up) => metrics.slackUp.set(up),
    log: logger,
    freshMs: SLACK_HEALTH_FRESH_MS,
    now,
  });
  const routes = [
    ...opsRoutes(checks, metrics.registry, [slackHealth]),
    auditRoute(env.GREENLIGHT_AUDIT_TOKEN, auditLog, {
      limit: new FailureRateLimit({ maxFailures: 5, windowMs: 60_000, now }),
      onRefused: (outcome) => metrics.auditAuthFailures.inc({ outcome }),
    }),
  ];
  // With OPS_PORT the ops endpoints live only on their own listener; Slack's port answers 404.
  const opsPort = env.OPS_PORT;
  const slackRoutes = opsPort === undefined ? routes : [];

  let app: App | undefined;
  if (runsWeb) {
    const receiver: Receiver = usesSocketMode(env)
      ? new SocketModeReceiver({
          appToken: env.SLACK_APP_TOKEN ?? '',
          logger: boltLogger,
          customRoutes: slackRoutes,
          installerOptions: { port: env.PORT },
        })
      : new HTTPReceiver({
          signingSecret: env.SLACK_SIGNING_SECRET ?? '',
          endpoints: '/slack/events',
          logger: boltLogger,
          customRoutes: slackRoutes,
          customPropertiesExtractor: (request) => ({ ...deliveryHeaders(request) }),
          // Unmatched requests get Bolt's 404 promptly instead of waiting for a timeout.
          unhandledRequestTimeoutMillis: 2500,
          // A signed payload missing what Slack always sends (a user, a list of actions) makes
          // Bolt throw before any listener runs: answer 400 rather than 500, which invites a retry.
          processEventErrorHandler: async ({ error, response, logger: boltLog }) => {
            if (response.headersSent) return false;
            const malformed = error instanceof TypeError;
            boltLog.warn(
              `${malformed ? 'malformed Slack payload' : 'error while processing a Slack request'}: ${error.message}`,
            );
            response.writeHead(malformed ? 400 : 500);
            response.end();
            return malformed;
          },
        });
    app = new App({
      token: env.SLACK_BOT_TOKEN,
      receiver,
      logger: boltLogger,
      clientOptions: { slackApiUrl: env.SLACK_API_URL },
      deferInitialization: true,
    });
    const deliveries = new RedisDeliveryLog(redis, prefix);
    registerDeliveryGuard(app, {
      firstTime: (signature) => deliveries.firstTime(signature),
      nowMs: now,
      logger,
    });
    registerCommandListeners(app, {
      services,
      logger,
      dispatch: (request, context) => dispatchCommand(appDeps(), request, context),
      onCommand: (command, outcome) => metrics.commands.inc({ command, outcome }),
    });
    registerActionListeners(app, {
      logger,
      client,
      getRelease: (id) => store.getRelease(id),
      dispatch: (button, releaseId, click) => dispatchAction(appDeps(), button, releaseId, click),
      check: (button, release, click) => checkClick(appDeps(), button, release, click),
    });
    app.error(async (error) => {
      logger.error({ err: error }, 'unhandled error in a Slack listener');
    });
  }

  let opsServer: Server | undefined;
  let controlLoopWatch: NodeJS.Timeout | undefined;
  let slackWatch: NodeJS.Timeout | undefined;

  const startWorker = (name: string, handlers: JobHandlers, concurrency: number): Worker => {
    // Workers block on Redis; BullMQ requires maxRetriesPerRequest: null for them.
    const connection = new Redis(env.REDIS_URL, {
      maxRetriesPerRequest: null,
      connectionName: `greenlight-worker-${name}`,
    });
    workerConnections.push(connection);
    const worker = new Worker(name, routeJobs(handlers), {
      connection,
      prefix,
      concurrency,
      autorun: true,
      // Named by process, so an operator (or a test) can see which worker holds a step.
      name: `greenlight-${process.pid}`,
      stalledInterval: env.GREENLIGHT_STALLED_INTERVAL_MS,
      lockDuration: env.GREENLIGHT_STALLED_INTERVAL_MS,
    });
    worker.on('failed', (job, error) => {
      metrics.jobFailures.inc({ queue: name, job: job?.name ?? 'unknown' });
      logger.warn({ queue: name, job: job?.id, err: error }, 'job failed');
    });
    worker.on('error', (error) => logger.error({ queue: name, err: error }, 'worker error'));
    workers.push(worker);
    return worker;
  };

  return {
    metrics,
    async start() {
      try {
        await redis.connect();
      } catch (error) {
        throw new StartupError(
          `cannot reach Redis at ${redactedRedisUrl(env.REDIS_URL)} (${(error as Error).message}). Check that Redis runs there and REDIS_URL (host, port, password) is right.`,
        );
      }
      stepsQueue = new Queue(QUEUE_NAMES.steps, { connection: redis, prefix });
      outboxQueue = new Queue(QUEUE_NAMES.outbox, { connection: redis, prefix });
      const redisCheck = await checkRedisForStartup(redis, {
        allowEviction: env.GREENLIGHT_ALLOW_EVICTION,
      });
      for (const warning of redisCheck.warnings) logger.warn(warning);
      if (redisCheck.refuse !== undefined) throw new StartupError(redisCheck.refuse);
      const gates = new ConfiguredGateRunner(config.services, processEnv, cwd, http);
      deps = {
        config,
        store,
        scheduler: new BullmqStepScheduler(stepsQueue),
        notifier: new SlackNotifier(outboxQueue, config),
        traffic,
        probe: new UndiciSlotProbe(config.services, http),
        deployer: new ConfiguredDeployer(config.services, processEnv, cwd, http),
        directory,
        audit: auditLog,
        telemetry: {
          releaseEnded: (service, outcome, seconds) => {
            metrics.releases.inc({ service, outcome });
            metrics.releaseDuration.observe({ service, outcome }, seconds);
          },
          rollbackStarted: (service, trigger) => metrics.rollbacks.inc({ service, trigger }),
          approved: (service, seconds) => metrics.approvalWait.observe({ service }, seconds),
        },
        gates,
        dryRunGates: new ReusedGateResults(
          gates,
          (service) => (config.services[service]?.dryRunGateCacheSeconds ?? 0) * 1000,
          now,
        ),
        metrics: new ConfiguredMetricsSource(
          config.services,
          new HaproxyMetricsSource(haproxyTraffic),
          new PrometheusMetricsSource(config.services, http),
        ),
        faulty: new RedisFaultyVersions(redis, prefix),
        locks: new RedisLocks(redis, prefix),
        clock: { now: () => new Date(now()) },
        ids: { next: (kind) => `${kind}-${now().toString(36)}-${randomBytes(3).toString('hex')}` },
        log: logger,
        isStopping: () => stopping,
      };
      if (runsWorkers) {
        // One Slack message at a time across every worker process: order within a thread holds.
        await outboxQueue.setGlobalConcurrency(1);
        let outboxWorker: Worker | undefined;
        const outbox = outboxHandler({
          client: outboxClient,
          redis,
          prefix,
          retentionDays: config.releases.retentionDays,
          pause: async (ms) => outboxWorker?.rateLimit(ms),
          onError: (method, error, retried) => {
            metrics.slackErrors.inc({ method, error });
            if (retried)
              metrics.slackRetries.inc({
                reason: error === 'ratelimited' ? 'rate_limited' : 'unavailable',
              });
          },
        });
        outboxWorker = startWorker(
          QUEUE_NAMES.outbox,
          { 'slack-message': outbox as JobHandlers[string] },
          1,
        );
        startWorker(QUEUE_NAMES.steps, stepHandlers(deps), 8);
        // Start-up runs one pass of the control loop before taking Slack traffic: lost jobs are
        // found, passed deadlines acted on, and the proxy brought to what the releases want.
        const outcomes = await controlLoopPass(deps).catch((error: unknown) => {
          logger.warn({ err: error }, 'the start-up control loop pass failed');
          return [];
        });
        for (const outcome of outcomes)
          logger.info({ ...outcome }, 'traffic reconciled at start-up');
        const everyMs = env.GREENLIGHT_RECONCILE_INTERVAL_SECONDS * 1000;
        const queue = stepsQueue;
        const ensureControlLoop = async () => {
          if ((await queue.getJobScheduler(RECONCILE_JOB)) !== undefined) return;
          await queue.upsertJobScheduler(
            RECONCILE_JOB,
            { every: everyMs },
            { name: RECONCILE_JOB, data: { v: 1 } },
          );
        };
        await ensureControlLoop();
        // The control loop's own schedule is watched by every worker process: if it is ever
        // deleted, the next check puts it back (the sweeper cannot sweep for itself).
        controlLoopWatch = setInterval(() => {
          ensureControlLoop().catch((error: unknown) =>
            logger.warn({ err: error }, 'could not check the control loop schedule'),
          );
        }, everyMs);
        controlLoopWatch.unref();
      }
      if (app !== undefined) {
        await app.init();
        await app.start(env.PORT);
        logger.info(
          { port: env.PORT, mode: usesSocketMode(env) ? 'socket' : 'http', role, services },
          'greenlight is listening for Slack',
        );
      }
      if (app === undefined || opsPort !== undefined) {
        opsServer = createOpsServer(routes);
        const server = opsServer;
        const port = opsPort ?? env.PORT;
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(port, () => {
            server.off('error', reject);
            resolve();
          });
        });
        logger.info(
          { port, role },
          app === undefined ? 'greenlight worker is running' : 'ops endpoints are listening',
        );
      }
      // Slack's health is a metric and a log line, checked in the background.
      void slackHealth.refresh();
      slackWatch = setInterval(() => void slackHealth.refresh(), SLACK_HEALTH_FRESH_MS);
      slackWatch.unref();
    },
    async stop() {
      const bound = env.GREENLIGHT_SHUTDOWN_TIMEOUT_MS;
      stopping = true;
      if (controlLoopWatch !== undefined) clearInterval(controlLoopWatch);
      if (slackWatch !== undefined) clearInterval(slackWatch);
      if (app !== undefined) {
        await within(
          app.stop().then(() => true),
          bound / 4,
          () => false,
        );
      }
      if (opsServer !== undefined) {
        const server = opsServer;
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
      // Running jobs get most of the bound; after it they are left for another worker's stall
      // check to pick up, which is safe because every step is idempotent.
      const closed = await within(
        Promise.all(workers.map((w) => w.close())).then(() => true),
        bound / 2,
        () => false,
      );
      if (!closed) {
        logger.warn({ boundMs: bound / 2 }, 'workers did not finish in time; forcing close');
        // Force-closed steps are re-run elsewhere: their deploys must not outlive them.
        killAllRunning();
        await within(
          Promise.all(workers.map((w) => w.close(true))).then(() => true),
          bound / 8,
          () => false,
        );
      }
      for (const queue of [stepsQueue, outboxQueue]) {
        if (queue !== undefined) await within(queue.close(), bound / 8, () => undefined);
      }
      await http.close().catch(() => undefined);
      for (const connection of [...workerConnections, redis]) {
        await connection.quit().catch(() => connection.disconnect());
      }
    },
  };
}
