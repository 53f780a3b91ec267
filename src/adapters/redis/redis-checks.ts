import type { Redis } from 'ioredis';

/**
 * BullMQ loses jobs if Redis evicts keys under memory pressure; a release must never vanish, so
 * anything but `noeviction` deserves a loud warning at start-up.
 */
export async function readMaxmemoryPolicy(redis: Redis): Promise<string | undefined> {
  const reply: unknown = await redis.config('GET', 'maxmemory-policy');
  if (Array.isArray(reply)) return typeof reply[1] === 'string' ? reply[1] : undefined;
  if (reply !== null && typeof reply === 'object') {
    const value = (reply as Record<string, unknown>)['maxmemory-policy'];
    return typeof value === 'string' ? value : undefined;
  }
  return undefined;
}

export async function redisIsReachable(redis: Redis): Promise<boolean> {
  try {
    return (await redis.ping()) === 'PONG';
  } catch {
    return false;
  }
}
