import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';

export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface RedisFixture {
  readonly url: string;
  /** Pass as GREENLIGHT_KEY_PREFIX: every key Greenlight writes carries it. */
  readonly keyPrefix: string;
  readonly redis: Redis;
  /** Keys this fixture's prefix owns right now (state and queues). */
  keys(): Promise<string[]>;
  /** Deletes every key under the prefix and closes the client. */
  cleanup(): Promise<void>;
}

/**
 * A private namespace on the shared Redis, so test files (and other users of that Redis) never
 * see each other's keys. Greenlight wraps the prefix in braces (`{prefix}:...`).
 */
export async function redisFixture(name = 'test'): Promise<RedisFixture> {
  const keyPrefix = `gltest-${name}-${process.pid}-${randomBytes(4).toString('hex')}`;
  const redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 2, lazyConnect: true });
  await redis.connect();
  const keys = async () => {
    const found: string[] = [];
    for (const pattern of [`{${keyPrefix}}*`, `${keyPrefix}*`]) {
      let cursor = '0';
      do {
        const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
        cursor = next;
        found.push(...batch);
      } while (cursor !== '0');
    }
    return found;
  };
  return {
    url: TEST_REDIS_URL,
    keyPrefix,
    redis,
    keys,
    async cleanup() {
      const all = await keys();
      for (let i = 0; i < all.length; i += 500) await redis.del(...all.slice(i, i + 500));
      await redis.quit();
    },
  };
}
