import { describe, expect, it } from 'vitest';
import type { AppDeps } from '../../../src/app/app-deps.ts';
import { reconcileTraffic } from '../../../src/app/reconciler.ts';
import { runRollbackStep } from '../../../src/app/use-cases/rollback-traffic.ts';
import {
  proxyAsRecorded,
  type RollbackWorld,
  rollbackWorld,
} from '../../../testkit/rollback-world.ts';
import { withSilentLb2 } from '../../../testkit/silent-load-balancer.ts';

/**
 * Redis came back from a snapshot taken while a rollback was bringing its old slot back: blue was
 * being redeployed with 2.4.0. Since then the rollback finished (everyone on blue, running 2.4.0)
 * and a /bump put 2.5.1, never approved, on green, which is still PRODUCTION on record.
 */
function restored(): RollbackWorld {
  const w = rollbackWorld();
  proxyAsRecorded(w);
  w.running.blue = '2.4.0';
  w.running.green = '2.5.1';
  w.weights.blue = 100;
  w.weights.green = 0;
  return w;
}

/** Blue's /health times out on the given calls (1-based), answers otherwise. */
function blueHealthBlips(w: RollbackWorld, blips: number[]) {
  let calls = 0;
  w.deps.probe = {
    ...w.deps.probe,
    health: async (_s, slot) => {
      if (slot !== 'blue') return { ok: true };
      calls += 1;
      return blips.includes(calls) ? { ok: false, reason: 'timed out' } : { ok: true };
    },
  };
}

function greenSeen(w: RollbackWorld): number[] {
  const seen: number[] = [];
  const inspect = w.deps.traffic.inspect;
  w.deps.traffic = {
    ...w.deps.traffic,
    inspect: async (name) => {
      seen.push(w.weights.green);
      return inspect(name);
    },
  };
  return seen;
}

describe('a Redis record from the middle of a rollback that has since finished', () => {
  it('the control loop leaves everyone on blue: green runs an unapproved version', async () => {
    const w = restored();
    await reconcileTraffic(w.deps, 'api');
    expect(w.weights).toEqual({ blue: 100, green: 0 });
    expect(w.posts.some((p) => p.includes('Redis looks older than the proxy'))).toBe(true);
  });

  it('the rollback, run again, finds blue running 2.4.0 and ends without anyone reaching green', async () => {
    const w = restored();
    const seen = greenSeen(w);
    await reconcileTraffic(w.deps, 'api');
    await runRollbackStep(w.deps, { releaseId: 'rel-1', attempt: 3 });
    expect(w.releases.get('rel-1')?.state).toBe('rolled_back');
    expect(w.services.get('api')?.production).toBe('blue');
    expect(w.deploysSaw).toEqual([]);
    expect(seen.filter((green) => green > 0)).toEqual([]);
    expect(w.weights).toEqual({ blue: 100, green: 0 });
    expect(w.posts.join('\n')).toContain(
      'the rollback is recorded as done, without redeploying blue',
    );
  });
});

describe('a rollback record older than the proxy, read more than once', () => {
  it('the control loop: one timed-out /health of blue does not send everyone to green (2.5.1)', async () => {
    const w = restored();
    blueHealthBlips(w, [1]);
    await reconcileTraffic(w.deps, 'api');
    expect(w.weights).toEqual({ blue: 100, green: 0 });
  });

  it('the step after a standoff: one timed-out /health of blue does not move users to green and back', async () => {
    const w = restored();
    await reconcileTraffic(w.deps, 'api'); // standoff: traffic left on blue
    expect(w.weights).toEqual({ blue: 100, green: 0 });
    blueHealthBlips(w, [1]); // the step's first read of blue's health
    const seen = greenSeen(w);
    await runRollbackStep(w.deps, { releaseId: 'rel-1', attempt: 3 });
    seen.push(w.weights.green);
    expect(seen.filter((green) => green > 0)).toEqual([]);
  });

  /**
   * Users flipped onto blue by hand (same proxy process) while its record says a /bump was cut
   * off there; /version of each slot is load-balanced over three instances answering `answers`.
   */
  const flippedByHand = (answers: Record<'blue' | 'green', string[]>) => {
    const w = rollbackWorld();
    proxyAsRecorded(w);
    w.weights.blue = 100;
    w.weights.green = 0;
    const asked = { blue: 0, green: 0 };
    w.deps.probe = {
      ...w.deps.probe,
      version: async (_s, slot) => {
        if (w.deploysSaw.length > 0) return { ok: true, version: w.running[slot] };
        const list = answers[slot];
        return { ok: true, version: list[asked[slot]++ % list.length] ?? '' };
      },
    };
    return w;
  };

  it('one lagging PRODUCTION instance is no proof that Redis is older: blue is redeployed', async () => {
    // Blue answers 2.4.0 throughout; one of green's three instances still answers 2.3.9.
    const w = flippedByHand({ blue: ['2.4.0'], green: ['2.3.9', '2.4.1', '2.4.1'] });
    await runRollbackStep(w.deps, { releaseId: 'rel-1', attempt: 3 });
    expect(w.deploysSaw.length).toBe(1);
  });

  it('a /bump cut off after one of three blue instances is redeployed, even with green changed', async () => {
    const w = flippedByHand({ blue: ['2.4.0', '2.4.0', '2.5.0'], green: ['2.5.1'] });
    await runRollbackStep(w.deps, { releaseId: 'rel-1', attempt: 3 });
    expect(w.deploysSaw.length).toBe(1);
  });
});

describe('a rollback record older than the proxy: what the thread says', () => {
  it('a lost race recording blue reads as such, not "the record is conflict"', async () => {
    const w = restored();
    const commit = w.deps.store.commit.bind(w.deps.store);
    w.deps.store = {
      ...w.deps.store,
      commit: async (writes) =>
        writes.release === undefined && writes.service?.next.slots.blue.version === '2.4.0'
          ? false
          : commit(writes),
    } as AppDeps['store'];
    await runRollbackStep(w.deps, { releaseId: 'rel-1', attempt: 3 });
    const failure = w.releases.get('rel-1')?.failure ?? '';
    expect(failure).toContain('could not record 2.4.0 on blue');
    expect(failure).not.toContain('the record is conflict');
  });
});

describe('a rollback record older than the proxy, behind a fleet with a silent load balancer', () => {
  it('names the version green answers now, not the one on record, as what lb2 may still send users to', async () => {
    const w = restored();
    w.deps.traffic = withSilentLb2(w.deps.traffic);
    await runRollbackStep(w.deps, { releaseId: 'rel-1', attempt: 3 });
    const posts = w.posts.join('\n');
    expect(posts).toContain(
      'Rolled back on every load balancer but lb2 (us), which may still send users to 2.5.1 on green',
    );
  });
});

describe('a rollback record older than the proxy: what is said and recorded', () => {
  it('the thread says the rollback is done only once it is: a failed check after the move says failed', async () => {
    const w = restored();
    let calls = 0;
    // Blue answers its health checks before the move, then fails every one after it.
    w.deps.probe = {
      ...w.deps.probe,
      health: async (_s, slot) =>
        slot === 'blue' && ++calls >= 3 ? { ok: false, reason: 'HTTP 503' } : { ok: true },
    };
    await runRollbackStep(w.deps, { releaseId: 'rel-1', attempt: 3 });
    expect(w.releases.get('rel-1')?.failure).toContain('blue is unhealthy after the switch');
    expect(w.posts.join('\n')).not.toContain('the rollback is recorded as done');
  });

  it('STANDBY afterwards is not recorded as running the version it was just shown not to run', async () => {
    const w = restored();
    await runRollbackStep(w.deps, { releaseId: 'rel-1', attempt: 3 });
    expect(w.releases.get('rel-1')?.state).toBe('rolled_back');
    const green = w.services.get('api')?.slots.green;
    expect(green?.version).toBeNull();
    expect(green?.note).toContain('answers another version than recorded (2.4.1)');
  });
});
