import type { Queue } from 'bullmq';
import { z } from 'zod';
import type { StepJob, StepScheduler } from '../../app/ports.ts';
import { stepJobId } from './queue-names.ts';

/** Job data of each step, versioned: jobs outlive a deploy of Greenlight itself. */
export const deployJobSchema = z.object({
  v: z.literal(1),
  service: z.string(),
  operationId: z.string(),
});
export const switchJobSchema = z.object({ v: z.literal(1), releaseId: z.string() });
export const rollbackJobSchema = z.object({ v: z.literal(1), releaseId: z.string() });
export const advanceJobSchema = z.object({
  v: z.literal(1),
  releaseId: z.string(),
  to: z.number().int().min(0),
});
export const analyzeJobSchema = z.object({
  v: z.literal(1),
  releaseId: z.string(),
  tick: z.number().int().min(0),
  samples: z.object({ canary: z.unknown(), baseline: z.unknown() }).optional(),
});
export const progressJobSchema = z.object({ v: z.literal(1), releaseId: z.string() });

export const PROGRESS_JOB = 'progress';
const progressSchedulerId = (releaseId: string) => `progress-${releaseId}`;

const OPTIONS = {
  // A step that throws (Redis hiccup, a bug) is retried; steps are idempotent.
  attempts: 5,
  backoff: { type: 'exponential', delay: 1000 },
  removeOnComplete: { age: 7 * 24 * 3600, count: 10_000 },
  removeOnFail: { age: 30 * 24 * 3600 },
} as const;

export class BullmqStepScheduler implements StepScheduler {
  private readonly queue: Queue;

  constructor(queue: Queue) {
    this.queue = queue;
  }

  async enqueue(job: StepJob): Promise<void> {
    switch (job.step) {
      case 'deploy':
        await this.queue.add(
          'deploy',
          { v: 1, service: job.service, operationId: job.operationId },
          { ...OPTIONS, jobId: stepJobId(job.operationId, 'deploy', 1) },
        );
        return;
      case 'switch':
        await this.queue.add(
          'switch',
          { v: 1, releaseId: job.releaseId },
          { ...OPTIONS, jobId: stepJobId(job.releaseId, 'switch', 1) },
        );
        return;
      case 'advance':
        await this.queue.add(
          'advance',
          { v: 1, releaseId: job.releaseId, to: job.to },
          { ...OPTIONS, jobId: stepJobId(job.releaseId, 'advance', job.to) },
        );
        return;
      case 'analyze':
        await this.queue.add(
          'analyze',
          {
            v: 1,
            releaseId: job.releaseId,
            tick: job.tick,
            ...(job.samples ? { samples: job.samples } : {}),
          },
          { ...OPTIONS, delay: job.delayMs, jobId: stepJobId(job.releaseId, 'analyze', job.tick) },
        );
        return;
      case 'rollback':
        await this.queue.add(
          'rollback',
          { v: 1, releaseId: job.releaseId },
          { ...OPTIONS, jobId: stepJobId(job.releaseId, 'rollback', job.attempt) },
        );
        return;
    }
  }

  async startProgress(releaseId: string, everyMs: number): Promise<void> {
    // A job scheduler, not a timer: it survives restarts and yields one job per interval however
    // many workers run.
    await this.queue.upsertJobScheduler(
      progressSchedulerId(releaseId),
      { every: everyMs, startDate: Date.now() + everyMs },
      {
        name: PROGRESS_JOB,
        data: { v: 1, releaseId },
        opts: { removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } },
      },
    );
  }

  async stopProgress(releaseId: string): Promise<void> {
    await this.queue.removeJobScheduler(progressSchedulerId(releaseId));
  }
}
