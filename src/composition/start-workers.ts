import type { Worker } from 'bullmq';
import { commsHandlers } from '../adapters/queue/comms-jobs.ts';
import type { JobHandlers } from '../adapters/queue/job-router.ts';
import { QUEUE_NAMES } from '../adapters/queue/queue-names.ts';
import { controlLoopPass, RECONCILE_JOB, stepHandlers } from '../adapters/queue/step-handlers.ts';
import { outboxHandler } from '../adapters/slack/outbox-worker.ts';
import type { AppDeps } from '../app/app-deps.ts';
import type { Env } from '../config/env.ts';
import type { AppLogger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { Adapters, Queues } from './adapters.ts';
import type { WorkerPool } from './workers.ts';

// The job handlers (every step's use case, the outbox): imported only by processes that run
// workers (roles all and worker), so a web-only process does not load them (see lifecycle.ts).

export interface WorkerOptions {
  readonly env: Env;
  readonly config: AppDeps['config'];
  readonly logger: AppLogger;
  readonly metrics: Metrics;
  /** Where comms webhook secrets are read (by name, at delivery). */
  readonly processEnv?: NodeJS.ProcessEnv;
}

/**
 * Starts the outbox and step workers, runs one control loop pass and makes sure the control
 * loop is scheduled. Returns the timer that keeps watching that schedule.
 */
export async function startWorkers(
  pool: WorkerPool,
  deps: AppDeps,
  { redis, prefix, outboxClient, http }: Adapters,
  queues: Queues,
  { env, config, logger, metrics, processEnv = process.env }: WorkerOptions,
): Promise<NodeJS.Timeout> {
  // One Slack message at a time across every worker process: order within a thread holds.
  await queues.outbox.setGlobalConcurrency(1);
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
  outboxWorker = pool.start(
    QUEUE_NAMES.outbox,
    { 'slack-message': outbox as JobHandlers[string] },
    1,
  );
  pool.start(
    QUEUE_NAMES.steps,
    {
      ...stepHandlers(deps),
      ...commsHandlers(deps, processEnv, http, (outcome) =>
        metrics.webhookFailures.inc({ outcome }),
      ),
    },
    8,
  );
  // Start-up runs one pass of the control loop before taking Slack traffic: lost jobs are
  // found, passed deadlines acted on, and the proxy brought to what the releases want.
  const outcomes = await controlLoopPass(deps).catch((error: unknown) => {
    logger.warn({ err: error }, 'the start-up control loop pass failed');
    return [];
  });
  for (const outcome of outcomes) logger.info({ ...outcome }, 'traffic reconciled at start-up');
  const everyMs = env.GREENLIGHT_RECONCILE_INTERVAL_SECONDS * 1000;
  const queue = queues.steps;
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
  const controlLoopWatch = setInterval(() => {
    ensureControlLoop().catch((error: unknown) =>
      logger.warn({ err: error }, 'could not check the control loop schedule'),
    );
  }, everyMs);
  controlLoopWatch.unref();
  return controlLoopWatch;
}
