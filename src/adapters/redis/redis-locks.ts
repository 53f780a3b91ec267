import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Locks } from '../../app/ports.ts';

const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/**
 * A lock per name with an owner token and an expiry: released only by its owner, and freed by
 * Redis if the owner dies, so a crashed worker cannot block a service for ever.
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

  async withLock<T>(name: string, ttlMs: number, fn: () => Promise<T>): Promise<T> {
    const key = `${this.prefix}:lock:${name}`;
    const token = randomUUID();
    const deadline = Date.now() + this.waitMs;
    while ((await this.redis.set(key, token, 'PX', ttlMs, 'NX')) !== 'OK') {
      if (Date.now() > deadline)
        throw new Error(`lock ${name} is still held after ${this.waitMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    try {
      return await fn();
    } finally {
      await this.redis.eval(RELEASE, 1, key, token);
    }
  }
}
