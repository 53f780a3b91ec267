import type { Redis } from 'ioredis';

/** What start-up should do about the Redis it connected to. */
export interface RedisStartupVerdict {
  /** Set when Greenlight must not start on this Redis: why, and how to fix it. */
  readonly refuse?: string;
  /** Problems worth a loud log line that do not stop start-up. */
  readonly warnings: string[];
}

export interface RedisStartupOptions {
  /** GREENLIGHT_ALLOW_EVICTION: start on an evicting Redis, with a warning instead of a refusal. */
  readonly allowEviction: boolean;
}

/** One CONFIG GET value; undefined when Redis does not know the parameter. Throws if CONFIG is refused. */
async function readConfig(redis: Redis, name: string): Promise<string | undefined> {
  const reply: unknown = await redis.config('GET', name);
  // RESP2 answers [name, value]; RESP3 a map.
  if (Array.isArray(reply)) return typeof reply[1] === 'string' ? reply[1] : undefined;
  if (reply !== null && typeof reply === 'object') {
    const value = (reply as Record<string, unknown>)[name];
    return typeof value === 'string' ? value : undefined;
  }
  return undefined;
}

/**
 * Checks the settings Greenlight's guarantees rest on, once at start-up:
 * - `maxmemory-policy` must be `noeviction`: an evicting Redis drops queued steps and release
 *   state under memory pressure, silently. Anything else refuses start-up, unless
 *   `allowEviction` (GREENLIGHT_ALLOW_EVICTION) turns the refusal into a warning.
 * - AOF (`appendonly yes`) or RDB snapshots (`save` not empty) should be on, or a Redis restart
 *   forgets every release: a warning, since a throwaway Redis is fine for a demo.
 * Managed Redis often disables CONFIG; then nothing can be checked, which is a warning too.
 */
export async function checkRedisForStartup(
  redis: Redis,
  options: RedisStartupOptions,
): Promise<RedisStartupVerdict> {
  let policy: string | undefined;
  let appendonly: string | undefined;
  let save: string | undefined;
  try {
    [policy, appendonly, save] = await Promise.all([
      readConfig(redis, 'maxmemory-policy'),
      readConfig(redis, 'appendonly'),
      readConfig(redis, 'save'),
    ]);
  } catch (error) {
    return {
      warnings: [
        `Redis refused CONFIG GET (${(error as Error).message}), as managed Redis services often do: Greenlight cannot check its settings. Make sure maxmemory-policy is noeviction and persistence (appendonly yes) is on.`,
      ],
    };
  }

  const warnings: string[] = [];
  let refuse: string | undefined;
  if (policy === undefined) {
    warnings.push(
      'Redis did not report its maxmemory-policy: make sure it is noeviction, or a full Redis may evict queued steps and release state.',
    );
  } else if (policy !== 'noeviction') {
    const problem = `Redis maxmemory-policy is ${policy}, not noeviction: under memory pressure Redis may evict queued steps and release state.`;
    if (options.allowEviction)
      warnings.push(`${problem} Starting anyway because GREENLIGHT_ALLOW_EVICTION is set.`);
    else
      refuse = `${problem} Set maxmemory-policy noeviction (CONFIG SET maxmemory-policy noeviction, and in redis.conf), or set GREENLIGHT_ALLOW_EVICTION=true to start anyway.`;
  }

  const aof = appendonly === 'yes';
  const rdb = save !== undefined && save.trim() !== '';
  if (appendonly !== undefined && save !== undefined && !aof && !rdb) {
    warnings.push(
      'Redis keeps nothing on disk: a Redis restart loses every release and queued step. Turn on appendonly yes.',
    );
  }
  return refuse === undefined ? { warnings } : { refuse, warnings };
}

export async function redisIsReachable(redis: Redis): Promise<boolean> {
  try {
    return (await redis.ping()) === 'PONG';
  } catch {
    return false;
  }
}
