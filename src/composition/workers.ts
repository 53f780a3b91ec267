import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { type JobHandlers, LOCK_LOST_RETRY_MS, routeJobs } from '../adapters/queue/job-router.ts';
import type { Env } from '../config/env.ts';
import type { AppLogger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';

/**
 * This process's BullMQ workers: one shared Redis connection for their commands, and one
 * blocking connection per worker that BullMQ opens itself.
 */
export class WorkerPool {
  readonly workers: Worker[] = [];
  readonly connections: Redis[] = [];

  private readonly env: Env;
  private readonly prefix: string;
  private readonly metrics: Metrics;
  private readonly logger: AppLogger;

  constructor(env: Env, prefix: string, metrics: Metrics, logger: AppLogger) {
    this.env = env;
    this.prefix = prefix;
    this.metrics = metrics;
    this.logger = logger;
  }

  start(name: string, handlers: JobHandlers, concurrency: number): Worker {
    const { env, metrics, logger } = this;
    // One connection for every worker's ordinary commands (job locks, completions, stalled
    // checks): BullMQ shares a passed-in client and duplicates it for each worker's own blocking
    // wait. Workers block on Redis; BullMQ requires maxRetriesPerRequest: null for them.
    let connection = this.connections[0];
    if (connection === undefined) {
      connection = new Redis(env.REDIS_URL, {
        maxRetriesPerRequest: null,
        connectionName: 'greenlight-worker',
      });
      this.connections.push(connection);
    }
    const putBack = (job: { id?: string | undefined; name: string }, error: Error) =>
      logger.warn(
        { queue: name, job: job.id, err: error },
        `${job.name} lost its lock and runs again in ${LOCK_LOST_RETRY_MS / 1000} s`,
      );
    const worker = new Worker(name, routeJobs(handlers, putBack), {
      connection,
      prefix: this.prefix,
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
    this.workers.push(worker);
    return worker;
  }

  /** Why the workers cannot take jobs right now, or undefined when they can. */
  notReady(): string | undefined {
    if (this.workers.length === 0) return 'workers not started yet';
    const idle = this.workers.filter((w) => !w.isRunning() || w.closing !== undefined);
    if (idle.length > 0) return `not running: ${idle.map((w) => w.name).join(', ')}`;
    const offline = this.connections.filter((c) => c.status !== 'ready');
    if (offline.length > 0)
      return `${offline.length} worker connection(s) to Redis are ${offline.map((c) => c.status).join(', ')}`;
    return undefined;
  }
}
