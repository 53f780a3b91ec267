import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

/**
 * Signed Slack requests already acted on, shared by every `web` replica. A request seen again
 * within Slack's signing window (same signature: a replay, or a retry of the very same bytes)
 * must be answered but change nothing. Entries outlive the window and then expire.
 */
export class RedisDeliveryLog {
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly keepMs: number;

  constructor(redis: Redis, prefix: string, keepMs = 10 * 60_000) {
    this.redis = redis;
    this.prefix = prefix;
    this.keepMs = keepMs;
  }

  /** True the first time a signature is seen, false for every later delivery of it. */
  async firstTime(signature: string): Promise<boolean> {
    const digest = createHash('sha256').update(signature).digest('hex');
    const set = await this.redis.set(`${this.prefix}:seen:${digest}`, '1', 'PX', this.keepMs, 'NX');
    return set === 'OK';
  }
}
