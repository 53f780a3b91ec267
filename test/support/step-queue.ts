import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { eventually, type ReleaseWorld } from '../../testkit/release-world.ts';

/**
 * Options for `describe`/`it` in files whose tests each build a world of their own (slot servers,
 * HAProxy, a Redis key prefix, Greenlight) and clean it up themselves: lanes run side by side,
 * the tests inside a lane one after another.
 */
export const LANE = { concurrent: true } as const;
export const IN_TURN = { concurrent: false } as const;

/** The `steps` queue Greenlight's workers consume, opened from outside. */
export async function withStepsQueue<T>(
  w: ReleaseWorld,
  fn: (queue: Queue) => Promise<T>,
): Promise<T> {
  const connection = new Redis(w.redis.url, { maxRetriesPerRequest: null });
  const queue = new Queue('steps', { connection, prefix: `{${w.redis.keyPrefix}}` });
  try {
    return await fn(queue);
  } finally {
    await queue.close();
    connection.disconnect();
  }
}

/** Jobs a job scheduler produces (the periodic reconcile, analysis, progress) are not steps. */
export const isScheduled = (job: { id?: string; repeatJobKey?: string }) =>
  job.repeatJobKey !== undefined || (job.id ?? '').startsWith('repeat:');

/** The steps that deploy or move traffic (not comms reminders, which wait for days). */
const MOVERS = new Set(['deploy', 'switch', 'rollback', 'traffic', 'pre_switch']);

/** Steps that deploy or move traffic, queued, delayed or running, by name and id. */
export async function pendingSteps(queue: Queue): Promise<string[]> {
  return (await queue.getJobs(['waiting', 'active', 'delayed', 'prioritized']))
    .filter((job) => MOVERS.has(job.name) && !isScheduled(job))
    .map((job) => `${job.name} ${job.id}`);
}

/**
 * Waits until no step job (switch, rollback, traffic, deploy) is queued, delayed or running:
 * whatever the clicks and commands before it set off has run to its end, so what is read next
 * is what they did. A click's jobs are queued before its private answer is posted.
 */
export async function stepsSettled(w: ReleaseWorld): Promise<void> {
  await withStepsQueue(w, (q) =>
    eventually(
      () => pendingSteps(q),
      (pending) => pending.length === 0,
      30_000,
      100,
    ),
  );
}

/** Passes of the periodic control loop (sweeper, then reconciler) that began after `since` and ended. */
export async function passesSince(queue: Queue, since: number): Promise<number> {
  const completed = await queue.getJobs(['completed'], 0, 50, false);
  return completed.filter((job) => job.name === 'reconcile' && (job.processedOn ?? 0) > since)
    .length;
}
