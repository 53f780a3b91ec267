import { type Job, UnrecoverableError } from 'bullmq';
import type { z } from 'zod';

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
 * so BullMQ's backoff retries it.
 */
export function routeJobs(handlers: JobHandlers): (job: Job) => Promise<unknown> {
  return async (job) => {
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
    return handler.run(parsed.data, job);
  };
}

/** A typed handler: `run` receives the schema's output. */
export function jobHandler<S extends z.ZodType>(
  schema: S,
  run: (data: z.output<S>, job: Job) => Promise<unknown>,
): JobHandler {
  return { schema, run: run as JobHandler['run'] };
}
