import { describe, expect, it } from 'vitest';
import { LockLostError, type Locks } from '../../../src/app/ports.ts';
import { reconcileTraffic } from '../../../src/app/reconciler.ts';
import { runSwitchStep, runTrafficStep } from '../../../src/app/use-cases/switch-traffic.ts';
import type { Release, ReleaseState } from '../../../src/domain/release.ts';
import { apiConfig } from '../../../testkit/api-config.ts';
import { memoryWorld } from '../../../testkit/memory-deps.ts';
import { releaseRecord, serviceRecord } from '../../../testkit/release-fixtures.ts';

// A holder whose renewals failed (Redis away, a starved process): by the time it would move
// the proxy, another holder may have the lock and be moving it too.
const NOW = new Date('2026-11-27T10:00:00.000Z');
const AT = '2026-11-27T09:00:00.000Z';

function releaseWorld(state: ReleaseState, extra: Partial<Release> = {}) {
  const w = memoryWorld(apiConfig({ strategy: 'canary' }), NOW);
  w.releases.set(
    'rel-1',
    releaseRecord(AT, {
      strategy: 'canary',
      approvals: [{ role: 'lead', user: 'U0LEAD', at: AT }],
      state,
      canary: { steps: [20, 100], stepIndex: 0, stepStartedAt: AT },
      ...extra,
    }),
  );
  w.services.set('api', serviceRecord(AT, { lastReleaseId: 'rel-1' }));
  return w;
}

/** Locks whose lease says lost whenever `lapsed()` says so; counts how often it was asked. */
function lapsingLocks(lapsed: () => boolean) {
  let asked = 0;
  const locks: Locks = {
    withLock: (name, _ttl, fn) =>
      fn({
        assertHeld: () => {
          asked += 1;
          if (lapsed()) throw new LockLostError(name, 'not renewed in time; it may have expired');
        },
      }),
  };
  return { locks, asked: () => asked };
}

/** A release in `state` whose steps find their traffic lock lost from the start. */
function world(state: ReleaseState, extra: Partial<Release> = {}) {
  const w = releaseWorld(state, extra);
  const { locks, asked } = lapsingLocks(() => true);
  return { w, deps: { ...w.deps, locks }, asked };
}

describe('a holder that lost its traffic lock moves nothing', () => {
  it('a canary step: the proxy keeps its weights and the release does not roll back', async () => {
    const { w, deps, asked } = world('ramping');
    await expect(runTrafficStep(deps, { service: 'api' })).rejects.toBeInstanceOf(LockLostError);
    expect(asked()).toBeGreaterThan(0);
    expect(w.weights).toEqual({ blue: 100, green: 0 });
    expect(w.releases.get('rel-1')?.state).toBe('ramping');
    expect(w.releases.get('rel-1')?.rollback).toBeUndefined();
  });

  it('the switch step: not failed, left for the step to run again', async () => {
    const { w, deps } = world('switching', { canary: undefined, strategy: 'bluegreen' });
    await expect(runSwitchStep(deps, { releaseId: 'rel-1', revision: 3 })).rejects.toBeInstanceOf(
      LockLostError,
    );
    expect(w.weights).toEqual({ blue: 100, green: 0 });
    expect(w.releases.get('rel-1')?.state).toBe('switching');
    expect(w.audit.filter((a) => a.what === 'traffic set')).toEqual([]);
  });

  it('a control-loop pass: skipped, no drift reported to the channel', async () => {
    const { w, deps } = world('ramping');
    const outcome = await reconcileTraffic(deps, 'api');
    expect(outcome.result).toBe('skipped');
    expect(w.weights).toEqual({ blue: 100, green: 0 });
    expect(w.posts.filter((p) => p.startsWith('drift'))).toEqual([]);
  });

  it('a lock that lapses while the proxy moves: the failure is the lost lock, not a canary breach', async () => {
    const w = releaseWorld('ramping');
    let lapsed = false;
    const { locks } = lapsingLocks(() => lapsed);
    // The proxy call outlives the lock, and another holder moved the proxy meanwhile.
    const traffic = {
      ...w.deps.traffic,
      split: async () => {
        lapsed = true;
        throw new Error('HAProxy does not see green (api/green) as up');
      },
    };
    const deps = { ...w.deps, locks, traffic };
    await expect(runTrafficStep(deps, { service: 'api' })).rejects.toBeInstanceOf(LockLostError);
    expect(w.releases.get('rel-1')?.state).toBe('ramping');
    lapsed = false;
    const outcome = await reconcileTraffic(deps, 'api');
    expect(outcome.result).toBe('skipped');
    expect(w.posts.filter((p) => p.startsWith('drift'))).toEqual([]);
  });

  it('while the lock is held, the same steps do move the proxy (the test above can fail)', async () => {
    const w = releaseWorld('ramping');
    await runTrafficStep(w.deps, { service: 'api' });
    expect(w.weights).toEqual({ blue: 80, green: 20 });
  });
});
