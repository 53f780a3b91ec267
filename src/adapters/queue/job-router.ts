import { DelayedError, type Job, UnrecoverableError } from 'bullmq';
import type { z } from 'zod';
import { LockLostError } from '../../app/lock-ports.ts';

/** A step that lost its lock runs again this much later, without using up an attempt... */
export const LOCK_LOST_RETRY_MS = 2000;
/** ...for this long after the job was queued; after that its attempts count again. */
export const LOCK_LOST_WINDOW_MS = 10 * 60_000;

/**
 * One kind of job: its schema (jobs outlive a deploy, so data is checked on every run) and the
 * step that runs it. `schemaVersion` lets a newer worker refuse data it no longer understands.
 */
export interface JobHandler<S extends z.ZodType = z.ZodType> {
  readonly schema: S;
  readonly run: (data: z.output<S>, job: Job) => Promise<unknown>;
}

export type JobHandlers = Readonly<Record<string, JobHandler>>;

/**
 * Builds a BullMQ processor that validates `job.data` and hands it to the handler named by the
 * job. Data that cannot be valid on retry becomes UnrecoverableError; anything else is rethrown
 * so BullMQ's backoff retries it. A step that lost its lock did not fail (it stopped before its
 * next effect, and runs again from Redis): it is put back without using up an attempt, so a
 * Redis outage cannot turn a switch or a rollback into a failed one.
 */
export function routeJobs(
  handlers: JobHandlers,
  onLockLost: (job: Job, error: LockLostError) => void = () => undefined,
): (job: Job, token?: string) => Promise<unknown> {
  return async (job, token) => {
    const handler = handlers[job.name];
    if (handler === undefined) {
      throw new UnrecoverableError(
        `no handler for job "${job.name}" in this version of Greenlight`,
      );
    }
    const parsed = handler.schema.safeParse(job.data);
    if (!parsed.success) {
      const where = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
      throw new UnrecoverableError(`job "${job.name}" has invalid data: ${where.join('; ')}`);
    }
    try {
      return await handler.run(parsed.data, job);
    } catch (error) {
      if (
        error instanceof LockLostError &&
        token !== undefined &&
        Date.now() - job.timestamp < LOCK_LOST_WINDOW_MS
      ) {
        // BullMQ's own job lock may be gone too (Redis was away): then the job cannot be moved
        // at all, and BullMQ's stalled-job check runs it again from Redis.
        await job.moveToDelayed(Date.now() + LOCK_LOST_RETRY_MS, token).catch(() => {
          throw error;
        });
        onLockLost(job, error);
        throw new DelayedError();
      }
      throw error;
    }
  };
}

/** A typed handler: `run` receives the schema's output. */
export function jobHandler<S extends z.ZodType>(
  schema: S,
  run: (data: z.output<S>, job: Job) => Promise<unknown>,
): JobHandler {
  return { schema, run: run as JobHandler['run'] };
}
