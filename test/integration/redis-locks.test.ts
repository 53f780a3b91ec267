import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisLocks } from '../../src/adapters/redis/redis-locks.ts';
import { type Lease, LockBusyError, LockLostError } from '../../src/app/ports.ts';
import { type RedisFixture, redisFixture } from '../../testkit/redis-fixture.ts';

/** What the lease says now: 'still held', or the error it throws. */
function heldOrWhy(lease: Lease): unknown {
  try {
    lease.assertHeld();
    return 'still held';
  } catch (error) {
    return error;
  }
}

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

  it('tells a holder renewed all along that the lock is still its own, TTLs later', async () => {
    const outcome = await locks.withLock('traffic-renewed', 600, async (lease) => {
      await new Promise((r) => setTimeout(r, 1500));
      lease.assertHeld();
      return 'still held';
    });
    expect(outcome).toBe('still held');
  });

  it('tells a holder whose lock another holder took (it expired while renewals failed)', async () => {
    const key = `{${redis.keyPrefix}}:lock:traffic-lost`;
    const outcome = await locks.withLock('traffic-lost', 600, async (lease) => {
      lease.assertHeld();
      // Expired while this holder could not renew, and taken by another process since.
      await redis.redis.set(key, 'another-worker', 'PX', 5000);
      // The next renewal (every TTL/3) finds the key is not its own.
      await new Promise((r) => setTimeout(r, 450));
      return heldOrWhy(lease);
    });
    expect(outcome).toBeInstanceOf(LockLostError);
    expect(String(outcome)).toContain('another holder has it');
    // Released only by its owner: the other holder keeps it.
    expect(await redis.redis.get(key)).toBe('another-worker');
  });

  it('tells a holder starved past its TTL, before any renewal could say', async () => {
    const outcome = await locks.withLock('traffic-starved', 400, async (lease) => {
      // A blocked event loop (a long synchronous task): no renewal runs meanwhile.
      const until = Date.now() + 450;
      while (Date.now() < until) {
        // busy
      }
      return heldOrWhy(lease);
    });
    expect(outcome).toBeInstanceOf(LockLostError);
    expect(String(outcome)).toContain('not renewed in time');
  });

  it('tells a holder that kept its lease past the lock that it no longer holds it, whatever a late renewal says', async () => {
    let kept: Lease | undefined;
    await locks.withLock('traffic-kept', 300, async (lease) => {
      kept = lease;
      // Long enough for renewals to be in flight as the lock is let go.
      await new Promise((r) => setTimeout(r, 250));
    });
    await new Promise((r) => setTimeout(r, 150));
    expect(() => kept?.assertHeld()).toThrow(LockLostError);
  });
});
