import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { type Lease, LockBusyError, LockLostError, type Locks } from '../../app/ports.ts';

const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`;

/**
 * A lock per name with an owner token and a short expiry that the owner renews while it works:
 * released only by its owner, and freed by Redis within `ttlMs` if the owner dies, so a crashed
 * worker cannot block a service for long. The holder's lease knows when it last surely held the
 * lock (Redis counts the expiry from when it got the command, after it was sent), so a holder
 * whose renewals failed or came too late learns it before its next effect.
 */
export class RedisLocks implements Locks {
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly waitMs: number;

  constructor(redis: Redis, prefix: string, waitMs = 60_000) {
    this.redis = redis;
    this.prefix = prefix;
    this.waitMs = waitMs;
  }

  async withLock<T>(
    name: string,
    ttlMs: number,
    fn: (lease: Lease) => Promise<T>,
    options: { waitMs?: number } = {},
  ): Promise<T> {
    const key = `${this.prefix}:lock:${name}`;
    const token = randomUUID();
    const waitMs = options.waitMs ?? this.waitMs;
    const deadline = Date.now() + waitMs;
    // The lease counts on the monotonic clock: a wall clock set back must not extend it.
    let sentAt = performance.now();
    while ((await this.redis.set(key, token, 'PX', ttlMs, 'NX')) !== 'OK') {
      if (Date.now() >= deadline) throw new LockBusyError(name, waitMs);
      await new Promise((resolve) => setTimeout(resolve, 50));
      sentAt = performance.now();
    }
    let heldUntil = sentAt + ttlMs;
    let taken = false;
    let released = false;
    const renew = setInterval(
      () => {
        const sent = performance.now();
        this.redis.eval(RENEW, 1, key, token, String(ttlMs)).then(
          (renewed) => {
            if (Number(renewed) === 1) heldUntil = Math.max(heldUntil, sent + ttlMs);
            else taken = true;
          },
          () => undefined,
        );
      },
      Math.max(100, Math.floor(ttlMs / 3)),
    );
    // Room for the effect the holder is about to make after asking.
    const margin = Math.min(1000, Math.floor(ttlMs / 5));
    const lease: Lease = {
      assertHeld() {
        // A renewal answered after the lock was let go must not make it look held again.
        if (released) throw new LockLostError(name, 'already let go');
        if (taken) throw new LockLostError(name, 'another holder has it');
        if (performance.now() >= heldUntil - margin)
          throw new LockLostError(name, 'not renewed in time; it may have expired');
      },
    };
    try {
      return await fn(lease);
    } finally {
      released = true;
      clearInterval(renew);
      // Redis unreachable now must not hide why the holder stopped: the key expires on its own.
      await this.redis.eval(RELEASE, 1, key, token).catch(() => undefined);
    }
  }
}
