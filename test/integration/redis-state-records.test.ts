import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisKeys } from '../../src/adapters/redis/redis-keys.ts';
import { RedisStateStore } from '../../src/adapters/redis/redis-state-store.ts';
import type { Release } from '../../src/domain/release.ts';
import { type RedisFixture, redisFixture } from '../../testkit/redis-fixture.ts';
import { releaseRecord, serviceRecord } from '../../testkit/release-fixtures.ts';

// What the store writes, it can read back: a record it cannot read stops every later step of
// its release (the control loop and each analysis tick fail on it), so a canary would sit past
// its deadline with its traffic never repaired.

let fx: RedisFixture;
let run = 0;
const nextPrefix = () => `{${fx.keyPrefix}}:r${++run}`;
const at = new Date('2026-11-26T10:00:00.000Z').toISOString();

beforeAll(async () => {
  fx = await redisFixture('state-records');
});
afterAll(async () => {
  await fx.cleanup();
});

describe('release records round-trip through Redis', () => {
  it('keeps a canary whose first analysis read failed (no sample for either slot) readable', async () => {
    const store = new RedisStateStore(fx.redis, nextPrefix());
    // The first tick of a canary whose HAProxy was reloading: both reads failed, so neither slot
    // has a sample yet; JSON drops the undefined values.
    const release = releaseRecord(at, {
      state: 'ramping',
      revision: 1,
      analysis: { checks: 0, breaches: 0, samples: { canary: undefined, baseline: undefined } },
    });

    expect(await store.commit({ release: { next: release, expected: 0 } })).toBe(true);

    const read = await store.getRelease(release.id);
    expect(read?.state).toBe('ramping');
    expect(read?.analysis?.samples).toEqual({});
  });

  it('reads a record stored in that shape before this was mended', async () => {
    const prefix = nextPrefix();
    const store = new RedisStateStore(fx.redis, prefix);
    const stored = {
      ...releaseRecord(at, { state: 'ramping', revision: 4 }),
      analysis: { checks: 0, breaches: 0, samples: {} },
    };
    await fx.redis.hset(
      redisKeys.release(prefix, stored.id),
      'json',
      JSON.stringify(stored),
      'rev',
      '4',
    );

    const read = await store.getRelease(stored.id);
    expect(read?.revision).toBe(4);
    expect(read?.analysis?.checks).toBe(0);
  });

  it('refuses to store a record it could not read back, names what is wrong, and keeps the stored one', async () => {
    const store = new RedisStateStore(fx.redis, nextPrefix());
    const release = releaseRecord(at, { revision: 1 });
    await store.commit({ release: { next: release, expected: 0 } });
    const service = serviceRecord(at, { revision: 1 });
    await store.commit({ service: { next: service, expected: 0 } });

    const unreadable = { ...release, revision: 2, state: 'sideways' } as unknown as Release;
    await expect(
      store.commit({
        service: { next: { ...service, revision: 2 }, expected: 1 },
        release: { next: unreadable, expected: 1 },
      }),
    ).rejects.toThrow(/refused to store release rel-1: it could not be read back \(state: /);

    // Neither half of the write happened.
    expect((await store.getRelease(release.id))?.revision).toBe(1);
    expect((await store.getRelease(release.id))?.state).toBe('awaiting_approval');
    expect((await store.getService('api'))?.revision).toBe(1);
  });
});
