import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisLocks } from '../../src/adapters/redis/redis-locks.ts';
import { LockBusyError } from '../../src/app/ports.ts';
import { type RedisFixture, redisFixture } from '../../testkit/redis-fixture.ts';

describe('RedisLocks: one holder per name, renewed while held, freed when the holder dies', () => {
  let redis: RedisFixture;
  let locks: RedisLocks;

  beforeAll(async () => {
    redis = await redisFixture('locks');
    locks = new RedisLocks(redis.redis, `{${redis.keyPrefix}}`, 2000);
  });
  afterAll(async () => redis?.cleanup());

  it('keeps a lock past its TTL while the holder is still working, and excludes others meanwhile', async () => {
    const order: string[] = [];
    const first = locks.withLock('traffic-api', 300, async () => {
      order.push('first starts');
      await new Promise((r) => setTimeout(r, 900));
      order.push('first ends');
    });
    await new Promise((r) => setTimeout(r, 50));
    const second = locks.withLock('traffic-api', 300, async () => {
      order.push('second runs');
    });
    await Promise.all([first, second]);
    expect(order).toEqual(['first starts', 'first ends', 'second runs']);
  });

  it('answers at once with LockBusyError when told not to wait', async () => {
    const holding = locks.withLock(
      'traffic-web',
      500,
      () => new Promise((r) => setTimeout(r, 300)),
    );
    await new Promise((r) => setTimeout(r, 20));
    await expect(
      locks.withLock('traffic-web', 500, async () => 'never', { waitMs: 0 }),
    ).rejects.toBeInstanceOf(LockBusyError);
    await holding;
  });

  it('is free again within its TTL when the holder died without releasing it', async () => {
    // A crashed holder: the key exists with the TTL and nobody renews it.
    await redis.redis.set(`{${redis.keyPrefix}}:lock:traffic-pay`, 'dead-worker', 'PX', 400);
    // The wait (2 s here) is longer than the dead lock's TTL, so it is acquired, not refused.
    expect(await locks.withLock('traffic-pay', 400, async () => 'acquired')).toBe('acquired');
  });
});
