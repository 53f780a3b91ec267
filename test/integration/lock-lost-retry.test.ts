import { type Job, Queue, QueueEvents, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { jobHandler, routeJobs } from '../../src/adapters/queue/job-router.ts';
import { LockLostError } from '../../src/app/ports.ts';
import { type RedisFixture, redisFixture } from '../../testkit/redis-fixture.ts';

// A step that lost its traffic lock stopped before its next effect: BullMQ must run it again
// without spending one of its attempts, or a Redis outage turns a switch into a failed release.
describe('a step that lost its lock runs again without using up an attempt', () => {
  let redis: RedisFixture;
  let connection: Redis;
  let queue: Queue;
  let events: QueueEvents;
  let worker: Worker;
  const runs = new Map<string, number>();

  beforeAll(async () => {
    redis = await redisFixture('lock-lost');
    const prefix = `{${redis.keyPrefix}}`;
    connection = new Redis(redis.url, { maxRetriesPerRequest: null });
    queue = new Queue('steps', { connection, prefix });
    events = new QueueEvents('steps', { connection: { url: redis.url }, prefix });
    await events.waitUntilReady();
    worker = new Worker(
      'steps',
      routeJobs({
        // Loses its lock on the first run only.
        step: jobHandler(z.object({ key: z.string() }), async ({ key }) => {
          const n = (runs.get(key) ?? 0) + 1;
          runs.set(key, n);
          if (n === 1) throw new LockLostError('traffic-api', 'not renewed in time');
          return `ran ${n} times`;
        }),
      }),
      { connection, prefix },
    );
  });

  afterAll(async () => {
    await worker?.close();
    await events?.close();
    await queue?.close();
    connection?.disconnect();
    await redis?.cleanup();
  });

  it('a single-attempt step loses its lock, then completes on its next run', async () => {
    const job = await queue.add('step', { key: 'fresh' }, { attempts: 1 });
    expect(await job.waitUntilFinished(events, 20_000)).toBe('ran 2 times');
    const done = (await queue.getJob(job.id ?? '')) as Job;
    expect(await done.getState()).toBe('completed');
    // Its one attempt is still its own: the lost lock did not count as one.
    expect(done.attemptsMade).toBe(1);
    expect(runs.get('fresh')).toBe(2);
  });

  it('a step queued long ago spends its attempts as any failure does (no endless retry)', async () => {
    const job = await queue.add(
      'step',
      { key: 'old' },
      { attempts: 1, timestamp: Date.now() - 11 * 60_000 },
    );
    await expect(job.waitUntilFinished(events, 20_000)).rejects.toThrow('was lost while held');
    expect(await ((await queue.getJob(job.id ?? '')) as Job).getState()).toBe('failed');
    expect(runs.get('old')).toBe(1);
  });
});
