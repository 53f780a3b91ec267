import type { Server } from 'node:http';
import { App, HTTPReceiver, type Receiver, SocketModeReceiver } from '@slack/bolt';
import { WebClient } from '@slack/web-api';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { cachedCheck, opsRoutes, type ReadinessCheck } from './adapters/http/ops-routes.ts';
import { createOpsServer } from './adapters/http/ops-server.ts';
import { type JobHandlers, routeJobs } from './adapters/queue/job-router.ts';
import { QUEUE_NAMES, queuePrefix } from './adapters/queue/queue-names.ts';
import { readMaxmemoryPolicy, redisIsReachable } from './adapters/redis/redis-checks.ts';
import { refusalAnswer } from './adapters/slack/blocks/private-answers.ts';
import { registerCommandListeners } from './adapters/slack/command-listeners.ts';
import { notYetAvailable } from './app/pending-workflow.ts';
import { type Env, usesSocketMode } from './config/env.ts';
import type { GreenlightConfig } from './config/greenlight-schema.ts';
import { type AppLogger, boltLoggerFrom } from './logger.ts';
import { createMetrics, type Metrics } from './metrics.ts';

export const VERSION = '0.1.0';

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

/** The one composition root: the only place that constructs Bolt, BullMQ, ioredis and clients. */
export function compose({ env, config, logger, now = Date.now }: ComposeOptions): Greenlight {
  const role = env.GREENLIGHT_ROLE;
  const runsWeb = role === 'all' || role === 'web';
  const runsWorkers = role === 'all' || role === 'worker';
  const services = Object.keys(config.services).sort();
  const metrics = createMetrics();
  metrics.info.set({ version: VERSION, role }, 1);
  const boltLogger = boltLoggerFrom(logger);

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
  let queues: Queue[] = [];

  const client = new WebClient(env.SLACK_BOT_TOKEN, {
    slackApiUrl: env.SLACK_API_URL,
    logger: boltLogger,
  });

  const checks: ReadinessCheck[] = [
    {
      name: 'redis',
      check: async () =>
        (await redisIsReachable(redis)) ? undefined : 'redis does not answer PING',
    },
    cachedCheck(
      {
        name: 'slack',
        check: async () => {
          try {
            await client.auth.test();
            return undefined;
          } catch (error) {
            return `auth.test failed: ${(error as Error).message}`;
          }
        },
      },
      30_000,
      now,
    ),
  ];
  const routes = opsRoutes(checks, metrics.registry);

  let app: App | undefined;
  if (runsWeb) {
    const receiver: Receiver = usesSocketMode(env)
      ? new SocketModeReceiver({
          appToken: env.SLACK_APP_TOKEN ?? '',
          logger: boltLogger,
          customRoutes: routes,
          installerOptions: { port: env.PORT },
        })
      : new HTTPReceiver({
          signingSecret: env.SLACK_SIGNING_SECRET ?? '',
          endpoints: '/slack/events',
          logger: boltLogger,
          customRoutes: routes,
          // Unmatched requests get Bolt's 404 promptly instead of waiting for a timeout.
          unhandledRequestTimeoutMillis: 2500,
        });
    app = new App({
      token: env.SLACK_BOT_TOKEN,
      receiver,
      logger: boltLogger,
      clientOptions: { slackApiUrl: env.SLACK_API_URL },
      deferInitialization: true,
    });
    registerCommandListeners(app, {
      services,
      logger,
      dispatch: async (request) => {
        const { message, hint } = notYetAvailable(request);
        return refusalAnswer(message, hint);
      },
      onCommand: (command, outcome) => metrics.commands.inc({ command, outcome }),
    });
    app.error(async (error) => {
      logger.error({ err: error }, 'unhandled error in a Slack listener');
    });
  }

  const handlers: JobHandlers = {};
  const workers: Worker[] = [];
  const workerConnections: Redis[] = [];
  let opsServer: Server | undefined;

  return {
    metrics,
    async start() {
      try {
        await redis.connect();
      } catch (error) {
        throw new Error(
          `cannot reach Redis at ${redactedRedisUrl(env.REDIS_URL)}: ${(error as Error).message}`,
        );
      }
      queues = Object.values(QUEUE_NAMES).map(
        (name) => new Queue(name, { connection: redis, prefix }),
      );
      const policy = await readMaxmemoryPolicy(redis).catch(() => undefined);
      if (policy !== 'noeviction') {
        logger.warn(
          { maxmemoryPolicy: policy ?? 'unknown' },
          'Redis maxmemory-policy is not noeviction: under memory pressure Redis may evict queued jobs and release state. Set maxmemory-policy noeviction (and appendonly yes).',
        );
      }
      if (runsWorkers) {
        for (const name of Object.values(QUEUE_NAMES)) {
          // Workers block on Redis; BullMQ requires maxRetriesPerRequest: null for them.
          const connection = new Redis(env.REDIS_URL, {
            maxRetriesPerRequest: null,
            connectionName: `greenlight-worker-${name}`,
          });
          workerConnections.push(connection);
          const worker = new Worker(name, routeJobs(handlers), {
            connection,
            prefix,
            autorun: true,
          });
          worker.on('failed', (job, error) =>
            logger.warn({ queue: name, job: job?.id, err: error }, 'job failed'),
          );
          worker.on('error', (error) => logger.error({ queue: name, err: error }, 'worker error'));
          workers.push(worker);
        }
      }
      if (app !== undefined) {
        await app.init();
        await app.start(env.PORT);
        logger.info(
          { port: env.PORT, mode: usesSocketMode(env) ? 'socket' : 'http', role, services },
          'greenlight is listening for Slack',
        );
      } else {
        opsServer = createOpsServer(routes);
        const server = opsServer;
        await new Promise<void>((resolve) => server.listen(env.PORT, resolve));
        logger.info({ port: env.PORT, role }, 'greenlight worker is running');
      }
    },
    async stop() {
      const bound = env.GREENLIGHT_SHUTDOWN_TIMEOUT_MS;
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
        await within(
          Promise.all(workers.map((w) => w.close(true))).then(() => true),
          bound / 8,
          () => false,
        );
      }
      await Promise.all(queues.map((q) => within(q.close(), bound / 8, () => undefined)));
      for (const connection of [...workerConnections, redis]) {
        await connection.quit().catch(() => connection.disconnect());
      }
    },
  };
}
