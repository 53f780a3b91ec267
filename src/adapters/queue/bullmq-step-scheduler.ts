import type { Queue } from 'bullmq';
import { z } from 'zod';
import type { JobState, StepJob, StepScheduler } from '../../app/ports.ts';
import { stepJobId } from './queue-names.ts';

/** Job data of each step, versioned: jobs outlive a deploy of Greenlight itself. */
export const deployJobSchema = z.object({
  v: z.literal(1),
  service: z.string(),
  operationId: z.string(),
});
export const switchJobSchema = z.object({
  v: z.literal(1),
  releaseId: z.string(),
  // Jobs queued by an older Greenlight carry no revision: they run against whatever is current.
  revision: z.number().int().optional(),
});
export const rollbackJobSchema = z.object({ v: z.literal(1), releaseId: z.string() });
export const trafficJobSchema = z.object({ v: z.literal(1), service: z.string() });
export const preSwitchJobSchema = z.object({
  v: z.literal(1),
  releaseId: z.string(),
  index: z.number().int().min(0),
});
// `everyMs`: the schedule's own interval (absent on schedules made before it was carried).
export const analyzeJobSchema = z.object({
  v: z.literal(1),
  releaseId: z.string(),
  everyMs: z.number().positive().optional(),
});
export const progressJobSchema = z.object({ v: z.literal(1), releaseId: z.string() });

export const PROGRESS_JOB = 'progress';
export const ANALYZE_JOB = 'analyze';
const progressSchedulerId = (releaseId: string) => `progress-${releaseId}`;
const analysisSchedulerId = (releaseId: string) => `analyze-${releaseId}`;

/** The deterministic id and payload of a step. */
function jobOf(job: StepJob): { name: string; id: string; data: Record<string, unknown> } {
  switch (job.step) {
    case 'deploy':
      return {
        name: 'deploy',
        id: stepJobId(job.operationId, 'deploy', 1),
        data: { v: 1, service: job.service, operationId: job.operationId },
      };
    case 'switch':
      return {
        name: 'switch',
        id: stepJobId(job.releaseId, 'switch', job.revision),
        data: { v: 1, releaseId: job.releaseId, revision: job.revision },
      };
    case 'rollback':
      return {
        name: 'rollback',
        id: stepJobId(job.releaseId, 'rollback', job.attempt),
        data: { v: 1, releaseId: job.releaseId },
      };
    case 'traffic':
      return {
        name: 'traffic',
        id: stepJobId(`traffic-${job.service}`, job.cause, 0),
        data: { v: 1, service: job.service },
      };
    case 'pre_switch':
      return {
        name: 'pre_switch',
        id: stepJobId(job.releaseId, `step${job.index}`, job.attempt),
        data: { v: 1, releaseId: job.releaseId, index: job.index },
      };
  }
}

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
    const { name, id, data } = jobOf(job);
    await this.queue.add(name, data, { ...OPTIONS, jobId: id });
  }

  async jobState(job: StepJob): Promise<JobState> {
    const state = await this.queue.getJobState(jobOf(job).id);
    if (state === 'unknown') return 'missing';
    if (state === 'completed') return 'done';
    if (state === 'failed') return 'failed';
    return 'pending';
  }

  async startProgress(releaseId: string, everyMs: number): Promise<void> {
    // A job scheduler, not a timer: it survives restarts and yields one job per interval however
    // many workers run. The sweeper calls this again for every active release: keep a live one.
    if ((await this.queue.getJobScheduler(progressSchedulerId(releaseId))) !== undefined) return;
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

  async startAnalysis(releaseId: string, everyMs: number): Promise<void> {
    const id = analysisSchedulerId(releaseId);
    // Upserting an existing schedule would push its next tick back: leave a live one alone.
    if ((await this.queue.getJobScheduler(id)) !== undefined) return;
    await this.queue.upsertJobScheduler(
      id,
      { every: everyMs },
      {
        name: ANALYZE_JOB,
        data: { v: 1, releaseId, everyMs },
        opts: { removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } },
      },
    );
  }

  async stopAnalysis(releaseId: string): Promise<void> {
    await this.queue.removeJobScheduler(analysisSchedulerId(releaseId));
  }
}
