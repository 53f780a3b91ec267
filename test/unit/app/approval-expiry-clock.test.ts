import { describe, expect, it } from 'vitest';
import { sweepService } from '../../../src/app/sweeper.ts';
import { apiConfig } from '../../../testkit/api-config.ts';
import { manualClock } from '../../../testkit/clock.ts';
import { memoryWorld } from '../../../testkit/memory-deps.ts';
import { releaseRecord, serviceRecord } from '../../../testkit/release-fixtures.ts';

// An approval wait of an hour, run in milliseconds: the clock is moved, never slept on.
const CONFIG = apiConfig({
  deploy: '{ command: ["./deploy.sh"], timeoutSeconds: 120 }',
  api: '    approvalTtlMinutes: 60',
});
const REQUESTED = '2026-11-24T10:00:00.000Z';
const MINUTE = 60_000;

function pendingRelease() {
  const clock = manualClock(REQUESTED);
  const world = memoryWorld(CONFIG, clock);
  world.releases.set('rel-1', releaseRecord(REQUESTED, { state: 'awaiting_approval' }));
  world.services.set('api', serviceRecord(REQUESTED, { revision: 7 }));
  const reminders = () => world.posts.filter((post) => post.includes('Still waiting'));
  const sweep = () => sweepService(world.deps, 'api');
  return { clock, world, reminders, sweep };
}

describe('approval expiry, on a clock the test moves', () => {
  it('says nothing before half-way, reminds at half-way, expires at the deadline and frees the service', async () => {
    const { clock, world, reminders, sweep } = pendingRelease();
    const wallStart = performance.now();

    await sweep();
    clock.advance(30 * MINUTE - 1);
    await sweep();
    expect(reminders()).toEqual([]);

    clock.advance(1); // 10:30, half of the hour
    await sweep();
    expect(reminders()).toHaveLength(1);
    expect(reminders()[0]).toContain('api 2.4.1 needs approval');
    expect(reminders()[0]).toContain('by 11:00 UTC');
    expect(reminders()[0]).toContain('expires and the service is freed');

    clock.advance(30 * MINUTE - 1); // one millisecond before the deadline
    await sweep();
    expect(world.releases.get('rel-1')?.state).toBe('awaiting_approval');
    expect(world.services.get('api')?.operation?.releaseId).toBe('rel-1');

    clock.advance(1); // 11:00: the deadline
    expect(await sweep()).toContain('expired rel-1');
    const expired = world.releases.get('rel-1');
    expect(expired?.state).toBe('cancelled');
    expect(expired?.failure).toContain('expired');
    // The use case read the time from the clock it was given, not from the machine's.
    expect(expired?.updatedAt).toBe('2026-11-24T11:00:00.000Z');
    expect(world.services.get('api')?.operation).toBeNull();

    // An hour of release time took no wall time worth the name.
    expect(performance.now() - wallStart).toBeLessThan(1_000);
  });

  it('expires a wait the sweeper only sees long after its deadline, with no reminder first', async () => {
    const { clock, world, reminders, sweep } = pendingRelease();
    clock.set('2026-11-24T13:00:00.000Z'); // the sweeper was down for three hours
    expect(await sweep()).toContain('expired rel-1');
    expect(world.releases.get('rel-1')?.state).toBe('cancelled');
    expect(reminders()).toEqual([]);
  });

  it('moves only when told, forwards by advance, anywhere by set', () => {
    const clock = manualClock(new Date(REQUESTED));
    const first = clock.now();
    expect(clock.now().toISOString()).toBe(REQUESTED);
    expect(clock.advance(90_000).toISOString()).toBe('2026-11-24T10:01:30.000Z');
    expect(first.toISOString()).toBe(REQUESTED); // a Date handed out earlier does not move
    expect(clock.set('2026-11-23T09:00:00.000Z').toISOString()).toBe('2026-11-23T09:00:00.000Z');
    expect(() => clock.advance(-1)).toThrow(RangeError);
    expect(() => clock.set('not a date')).toThrow(RangeError);
  });

  it('is the clock of a world made from a plain Date too', () => {
    const world = memoryWorld(CONFIG, new Date(REQUESTED));
    world.clock.advance(MINUTE);
    expect(world.deps.clock.now().toISOString()).toBe('2026-11-24T10:01:00.000Z');
  });
});
