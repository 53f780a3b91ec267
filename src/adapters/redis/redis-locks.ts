import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { LockBusyError, type Locks } from '../../app/ports.ts';

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
 * worker cannot block a service for long.
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
    fn: () => Promise<T>,
    options: { waitMs?: number } = {},
  ): Promise<T> {
    const key = `${this.prefix}:lock:${name}`;
    const token = randomUUID();
    const waitMs = options.waitMs ?? this.waitMs;
    const deadline = Date.now() + waitMs;
    while ((await this.redis.set(key, token, 'PX', ttlMs, 'NX')) !== 'OK') {
      if (Date.now() >= deadline) throw new LockBusyError(name, waitMs);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const renew = setInterval(
      () => {
        this.redis.eval(RENEW, 1, key, token, String(ttlMs)).catch(() => undefined);
      },
      Math.max(100, Math.floor(ttlMs / 3)),
    );
    try {
      return await fn();
    } finally {
      clearInterval(renew);
      await this.redis.eval(RELEASE, 1, key, token);
    }
  }
}
