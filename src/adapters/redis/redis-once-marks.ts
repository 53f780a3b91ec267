import type { Redis } from 'ioredis';

/**
 * What a release has already sent (a webhook, a scheduled reminder), kept beside it. BullMQ's
 * job ids alone cannot say so for long: a queue trims its completed jobs by count, and the steps
 * queue completes analysis ticks every few seconds, so an old id could be added again.
 */
export class RedisOnceMarks {
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly ttlSeconds: number;

  constructor(redis: Redis, prefix: string, ttlSeconds = 30 * 24 * 3600) {
    this.redis = redis;
    this.prefix = prefix;
    this.ttlSeconds = ttlSeconds;
  }

  private key(releaseId: string): string {
    return `${this.prefix}:comms-sent:${releaseId}`;
  }

  async has(releaseId: string, what: string): Promise<boolean> {
    return (await this.redis.hexists(this.key(releaseId), what)) === 1;
  }

  /** Every mark of the release, read at once. */
  async list(releaseId: string): Promise<string[]> {
    return this.redis.hkeys(this.key(releaseId));
  }

  /** Marked only once the thing is queued: a crash in between sends it again, never loses it. */
  async mark(releaseId: string, what: string): Promise<void> {
    await this.redis
      .multi()
      .hset(this.key(releaseId), what, new Date().toISOString())
      .expire(this.key(releaseId), this.ttlSeconds)
      .exec();
  }
}
