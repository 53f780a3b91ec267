import { DelayedError, type Job } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  jobHandler,
  LOCK_LOST_RETRY_MS,
  LOCK_LOST_WINDOW_MS,
  routeJobs,
} from '../../../../src/adapters/queue/job-router.ts';
import { LockLostError } from '../../../../src/app/ports.ts';

/** A job as BullMQ hands it to a processor, recording what the processor asks of it. */
function job(queuedAgoMs: number, moveToDelayed: (at: number, token?: string) => Promise<void>) {
  return {
    name: 'switch',
    data: {},
    timestamp: Date.now() - queuedAgoMs,
    moveToDelayed,
  } as unknown as Job;
}

const losing = routeJobs({
  switch: jobHandler(z.object({}), async () => {
    throw new LockLostError('traffic-api', 'not renewed in time');
  }),
});

describe('the job router and a step that lost its lock', () => {
  it('puts the step back, with its own token, without failing it, and says so', async () => {
    const moved: { at: number; token?: string }[] = [];
    const said: string[] = [];
    const processor = routeJobs(
      {
        switch: jobHandler(z.object({}), async () => {
          throw new LockLostError('traffic-api', 'not renewed in time');
        }),
      },
      (j, error) => said.push(`${j.name}: ${error.message}`),
    );
    const before = Date.now();
    const run = processor(
      job(1000, async (at, token) => {
        moved.push({ at, ...(token ? { token } : {}) });
      }),
      'worker-token-1',
    );
    await expect(run).rejects.toBeInstanceOf(DelayedError);
    expect(moved).toHaveLength(1);
    expect(moved[0]?.token).toBe('worker-token-1');
    expect(moved[0]?.at).toBeGreaterThanOrEqual(before + LOCK_LOST_RETRY_MS);
    expect(said).toEqual(['switch: lock traffic-api was lost while held (not renewed in time)']);
  });

  it('lets BullMQ’s backoff take the lost lock when the step cannot be put back (its own job lock gone)', async () => {
    const run = losing(
      job(1000, async () => {
        throw new Error('Missing lock for job 42. moveToDelayed');
      }),
      'worker-token-1',
    );
    await expect(run).rejects.toBeInstanceOf(LockLostError);
  });

  it('counts attempts again once the step was queued longer ago than the window', async () => {
    let moved = 0;
    const run = losing(
      job(LOCK_LOST_WINDOW_MS + 1000, async () => {
        moved += 1;
      }),
      'worker-token-1',
    );
    await expect(run).rejects.toBeInstanceOf(LockLostError);
    expect(moved).toBe(0);
  });
});
