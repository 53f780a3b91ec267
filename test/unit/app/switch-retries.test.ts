import { describe, expect, it } from 'vitest';
import { MoveUndoneError, type TrafficSwitcher } from '../../../src/app/ports.ts';
import { runSwitchStep } from '../../../src/app/use-cases/switch-traffic.ts';
import { apiConfig } from '../../../testkit/api-config.ts';
import { memoryWorld } from '../../../testkit/memory-deps.ts';
import { releaseRecord, serviceRecord } from '../../../testkit/release-fixtures.ts';
import { withSilentLb2 } from '../../../testkit/silent-load-balancer.ts';

const NOW = new Date('2026-11-27T10:00:00.000Z');
const AT = '2026-11-27T09:00:00.000Z';

/** A switching release whose proxy fails every move with `failure`; counts the tries. */
function world(failure: () => Error) {
  const w = memoryWorld(apiConfig(), NOW);
  w.releases.set(
    'rel-1',
    releaseRecord(AT, {
      state: 'switching',
      approvals: [{ role: 'lead', user: 'U0LEAD', at: AT }],
    }),
  );
  w.services.set('api', serviceRecord(AT, { lastReleaseId: 'rel-1' }));
  let tries = 0;
  const traffic: TrafficSwitcher = {
    ...w.deps.traffic,
    switchTo: async () => {
      tries += 1;
      throw failure();
    },
  };
  // No real pauses between tries.
  const deps = { ...w.deps, traffic, sleep: async () => undefined };
  return { w, deps, tries: () => tries };
}

describe('the switch step tries the move again only where that cannot hurt', () => {
  it('a refused connection (an HAProxy reload as the approval lands) is tried twice more', async () => {
    const { w, deps, tries } = world(
      () => new Error('HAProxy runtime API unreachable (ECONNREFUSED)'),
    );
    await runSwitchStep(deps, { releaseId: 'rel-1', revision: 3 });
    // Three tries; traffic never left blue, so the failed switch has nothing to put back.
    expect(tries()).toBe(3);
    expect(w.releases.get('rel-1')?.state).toBe('failed');
  });

  it('a fleet move that reached users and was undone is not tried again: they went forward and back once', async () => {
    const { w, deps, tries } = world(
      () =>
        new MoveUndoneError(
          'HAProxy lb-3 (us) failed: unreachable; retried once. Restored the others so the service is not split: lb-1 back to blue only.',
        ),
    );
    await runSwitchStep(deps, { releaseId: 'rel-1', revision: 3 });
    expect(tries()).toBe(1);
    const release = w.releases.get('rel-1');
    expect(release?.state).toBe('failed');
    expect(release?.failure).toContain('lb-3 (us) failed');
  });

  it('a fleet already on green but for a load balancer that cannot be read is not a finished switch', async () => {
    const { w, deps } = world(() => new Error('not reached: the readable proxy needs no move'));
    // A retried step: lb1 went to green before the worker died; lb2 has not answered since.
    w.weights.blue = 0;
    w.weights.green = 100;
    let reads = 0;
    deps.traffic = withSilentLb2(deps.traffic, () => {
      reads += 1;
      return true;
    });
    await runSwitchStep(deps, { releaseId: 'rel-1', revision: 3 });
    const release = w.releases.get('rel-1');
    // Not "New PRODUCTION" while lb2 may still send everyone to blue: tried three times, failed.
    expect(reads).toBeGreaterThanOrEqual(3);
    expect(release?.state).toBe('failed');
    expect(release?.failure).toContain('lb2 (us): Runtime API: timeout');
    expect(w.services.get('api')?.production).toBe('blue');
  });
});
