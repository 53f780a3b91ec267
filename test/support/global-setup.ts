import { spawnSync } from 'node:child_process';
import { Redis } from 'ioredis';
import { build, MAIN_BUILT } from '../../scripts/build.ts';
import { GREENLIGHT_ENTRY } from '../../testkit/greenlight-process.ts';
import { TEST_REDIS_URL } from '../../testkit/redis-fixture.ts';

async function redisAnswers(): Promise<boolean> {
  const redis = new Redis(TEST_REDIS_URL, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    return (await redis.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

/**
 * Builds what production runs (`dist/src/main.js`, as `npm run build` does) from the sources
 * under test, for every Greenlight process the tests start (the workers inherit the variable).
 */
async function buildGreenlight(): Promise<void> {
  await build();
  process.env[GREENLIGHT_ENTRY] = MAIN_BUILT;
}

export default async function setup(): Promise<void> {
  await Promise.all([buildGreenlight(), ensureRedis()]);
}

/** Tests share the machine's Redis; if nothing answers, start one that keeps nothing on disk. */
async function ensureRedis(): Promise<void> {
  if (await redisAnswers()) return;
  const url = new URL(TEST_REDIS_URL);
  const started = spawnSync(
    'redis-server',
    [
      '--daemonize',
      'yes',
      '--bind',
      url.hostname,
      '--port',
      url.port || '6379',
      '--save',
      '',
      '--appendonly',
      'no',
    ],
    { stdio: 'inherit' },
  );
  if (started.status !== 0)
    throw new Error('no Redis at 127.0.0.1:6379 and redis-server could not start one');
  for (let i = 0; i < 50; i += 1) {
    if (await redisAnswers()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('redis-server started but does not answer');
}
