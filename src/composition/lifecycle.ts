import type { Server } from 'node:http';
import type { App } from '@slack/bolt';
import { Queue } from 'bullmq';
import type { OpsRoute, ReadinessCheck } from '../adapters/http/ops-routes.ts';
import { createOpsServer } from '../adapters/http/ops-server.ts';
import { killAllRunning } from '../adapters/process/run-argv.ts';
import { QUEUE_NAMES } from '../adapters/queue/queue-names.ts';
import { checkRedisForStartup, redisIsReachable } from '../adapters/redis/redis-checks.ts';
import type { SlackHealth } from '../adapters/slack/slack-health.ts';
import type { AppDeps } from '../app/app-deps.ts';
import { type Env, usesSocketMode } from '../config/env.ts';
import type { GreenlightConfig } from '../config/greenlight-schema.ts';
import type { AppLogger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import { type Adapters, buildAppDeps } from './adapters.ts';
import { SLACK_HEALTH_FRESH_MS } from './web.ts';
import type { WorkerPool } from './workers.ts';

/** Start-up cannot go on because of something outside Greenlight; the message says what to do. */
export class StartupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StartupError';
  }
}

export interface Lifecycle {
  start(): Promise<void>;
  /** Stops taking work, lets running jobs finish within the env's bound, closes Redis. */
  stop(): Promise<void>;
}

/** What changes while the process runs, shared by the listeners, readiness and stop. */
export interface RunState {
  /** Built by start(): the queues they use exist only once Redis is connected. */
  deps: AppDeps | undefined;
  /** Set once stop() begins: a deploy killed by the stop is abandoned, not failed. */
  stopping: boolean;
}

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

/**
 * Readiness is what this process needs to do its work: Redis, and (where workers run) workers
 * that can take jobs. Slack is watched, not waited for: see SlackHealth.
 */
export function readinessChecks(
  { redis }: Adapters,
  pool: WorkerPool | undefined,
  state: RunState,
): ReadinessCheck[] {
  const checks: ReadinessCheck[] = [
    {
      name: 'redis',
      check: async () =>
        (await redisIsReachable(redis)) ? undefined : 'redis does not answer PING',
    },
  ];
  if (pool !== undefined) {
    checks.push({
      name: 'workers',
      check: async () => (state.stopping ? 'stopping: taking no new jobs' : pool.notReady()),
    });
  }
  return checks;
}

export interface LifecycleParts {
  readonly env: Env;
  readonly config: GreenlightConfig;
  readonly logger: AppLogger;
  readonly metrics: Metrics;
  readonly now: () => number;
  readonly processEnv: NodeJS.ProcessEnv;
  readonly cwd: string;
  readonly services: string[];
  readonly adapters: Adapters;
  /** Always there, so stop() closes whatever was started; empty where workers do not run. */
  readonly pool: WorkerPool;
  readonly runsWorkers: boolean;
  /**
   * Builds the Bolt app, where this process takes Slack traffic. Called by start(): Bolt and the
   * listeners are imported only by processes that take Slack traffic.
   */
  readonly buildApp: (() => Promise<App>) | undefined;
  /** Every ops route, served on OPS_PORT, or on PORT where no Bolt app listens. */
  readonly routes: OpsRoute[];
  readonly slackHealth: SlackHealth;
  readonly state: RunState;
}

/** start() and stop() of the composed process, in the order each needs. */
export function lifecycle(parts: LifecycleParts): Lifecycle {
  const { env, config, logger, adapters, pool, routes, slackHealth, state } = parts;
  const { redis, prefix, http } = adapters;
  const opsPort = env.OPS_PORT;
  // Created once Redis is connected: BullMQ would otherwise start connecting on its own.
  let stepsQueue: Queue | undefined;
  let outboxQueue: Queue | undefined;
  let opsServer: Server | undefined;
  let controlLoopWatch: NodeJS.Timeout | undefined;
  let slackWatch: NodeJS.Timeout | undefined;
  let app: App | undefined;

  return {
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
      const queues = { steps: stepsQueue, outbox: outboxQueue };
      const redisCheck = await checkRedisForStartup(redis, {
        allowEviction: env.GREENLIGHT_ALLOW_EVICTION,
      });
      for (const warning of redisCheck.warnings) logger.warn(warning);
      if (redisCheck.refuse !== undefined) throw new StartupError(redisCheck.refuse);
      const deps = buildAppDeps(adapters, queues, {
        config,
        logger,
        metrics: parts.metrics,
        now: parts.now,
        processEnv: parts.processEnv,
        cwd: parts.cwd,
        isStopping: () => state.stopping,
      });
      state.deps = deps;
      if (parts.runsWorkers) {
        // The job handlers load only where workers run.
        const { startWorkers } = await import('./start-workers.ts');
        controlLoopWatch = await startWorkers(pool, deps, adapters, queues, {
          env,
          config,
          processEnv: parts.processEnv,
          logger,
          metrics: parts.metrics,
        });
      }
      if (parts.buildApp !== undefined) app = await parts.buildApp();
      if (app !== undefined) {
        await app.init();
        await app.start(env.PORT);
        logger.info(
          {
            port: env.PORT,
            mode: usesSocketMode(env) ? 'socket' : 'http',
            role: env.GREENLIGHT_ROLE,
            services: parts.services,
          },
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
          { port, role: env.GREENLIGHT_ROLE },
          app === undefined ? 'greenlight worker is running' : 'ops endpoints are listening',
        );
      }
      // Slack's health is a metric and a log line, checked in the background.
      void slackHealth.refresh();
      slackWatch = setInterval(() => void slackHealth.checkNow(), SLACK_HEALTH_FRESH_MS);
      slackWatch.unref();
    },
    async stop() {
      const bound = env.GREENLIGHT_SHUTDOWN_TIMEOUT_MS;
      state.stopping = true;
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
      const { workers } = pool;
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
      for (const connection of [...pool.connections, redis]) {
        await connection.quit().catch(() => connection.disconnect());
      }
    },
  };
}
