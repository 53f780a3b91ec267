import { type Queue, UnrecoverableError } from 'bullmq';
import type { Dispatcher } from 'undici';
import { z } from 'zod';
import type { AppDeps } from '../../app/app-deps.ts';
import type { CommsScheduler, ReminderStage } from '../../app/comms-ports.ts';
import { runCommsStep, runIncidentReminder } from '../../app/use-cases/release-comms.ts';
import type { RedisOnceMarks } from '../redis/redis-once-marks.ts';
import {
  COMMS_WEBHOOK_JOB,
  commsWebhookJobSchema,
  deliverCommsWebhook,
  hookPlaceOf,
} from '../webhooks/comms-webhooks.ts';
import { type JobHandlers, jobHandler } from './job-router.ts';

export const COMMS_JOB = 'comms';
export const INCIDENT_REMINDER_JOB = 'incident-reminder';
export const commsJobSchema = z.object({ v: z.literal(1), releaseId: z.string() });
export const reminderJobSchema = z.object({
  v: z.literal(1),
  releaseId: z.string(),
  stage: z.enum(['due', 'overdue']),
});

const KEEP = {
  removeOnComplete: { age: 7 * 24 * 3600, count: 10_000 },
  removeOnFail: { age: 30 * 24 * 3600 },
};
const plainId = (id: string) => id.replace(/[^A-Za-z0-9_.-]/g, '-');

/** Comms steps and reminders on the steps queue, under ids that make a repeat one job. */
export class BullmqCommsScheduler implements CommsScheduler {
  private readonly queue: Queue;
  private readonly marks: RedisOnceMarks;
  private readonly now: () => number;

  constructor(queue: Queue, marks: RedisOnceMarks, now: () => number) {
    this.queue = queue;
    this.marks = marks;
    this.now = now;
  }

  async enqueue(releaseId: string, tag: string): Promise<void> {
    await this.queue.add(
      COMMS_JOB,
      { v: 1, releaseId },
      { jobId: plainId(`${releaseId}-comms-${tag}`), attempts: 3, backoff: 1000, ...KEEP },
    );
  }

  async scheduleReminder(releaseId: string, stage: ReminderStage, at: Date): Promise<void> {
    const mark = `reminder-${stage}`;
    if (await this.marks.has(releaseId, mark)) return;
    await this.queue.add(
      INCIDENT_REMINDER_JOB,
      { v: 1, releaseId, stage },
      {
        jobId: plainId(`${releaseId}-incident-${stage}`),
        delay: Math.max(0, at.getTime() - this.now()),
        attempts: 5,
        backoff: { type: 'exponential', delay: 5000 },
        ...KEEP,
      },
    );
    await this.marks.mark(releaseId, mark);
  }
}

/** The comms jobs' processors, beside the release steps; a failed delivery is counted. */
export function commsHandlers(
  deps: AppDeps,
  env: NodeJS.ProcessEnv,
  dispatcher: Dispatcher,
  webhookFailed: (outcome: 'retried' | 'gave_up') => void = () => {},
): JobHandlers {
  return {
    [COMMS_JOB]: jobHandler(commsJobSchema, (data) => runCommsStep(deps, data)),
    [INCIDENT_REMINDER_JOB]: jobHandler(reminderJobSchema, (data) =>
      runIncidentReminder(deps, data),
    ),
    [COMMS_WEBHOOK_JOB]: jobHandler(commsWebhookJobSchema, async (data, job) => {
      try {
        await deliverCommsWebhook(
          { ...data, hook: hookPlaceOf(job.id) },
          deps.comms?.config.webhooks ?? [],
          env,
          dispatcher,
        );
      } catch (error) {
        const last =
          error instanceof UnrecoverableError || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
        webhookFailed(last ? 'gave_up' : 'retried');
        throw error;
      }
    }),
  };
}
