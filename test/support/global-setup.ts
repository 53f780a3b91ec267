import { spawnSync } from 'node:child_process';
import { Redis } from 'ioredis';
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

/** Tests share the machine's Redis; if nothing answers, start one that keeps nothing on disk. */
export default async function setup(): Promise<void> {
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
