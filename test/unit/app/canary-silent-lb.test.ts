import { describe, expect, it } from 'vitest';
import { runTrafficStep } from '../../../src/app/use-cases/switch-traffic.ts';
import { apiConfig } from '../../../testkit/api-config.ts';
import { memoryWorld } from '../../../testkit/memory-deps.ts';
import { releaseRecord, serviceRecord } from '../../../testkit/release-fixtures.ts';
import { withSilentLb2 } from '../../../testkit/silent-load-balancer.ts';

const NOW = new Date('2026-11-27T10:00:00.000Z');
const AT = '2026-11-27T09:00:00.000Z';

// The traffic step turns a failed move of a ramping release into a rollback. A load balancer that
// does not answer once, where nothing needs to move, is the control loop's to reach, not a breach.
describe('a canary step whose weights are already in place, one load balancer silent', () => {
  it('is not rolled back (the reconciler, a duplicate delivery or switch_held got there first)', async () => {
    const w = memoryWorld(apiConfig(), NOW);
    w.releases.set(
      'rel-1',
      releaseRecord(AT, {
        strategy: 'canary',
        state: 'ramping',
        approvals: [{ role: 'lead', user: 'U0LEAD', at: AT }],
        canary: { steps: [10, 50], stepIndex: 0, stepStartedAt: AT },
      }),
    );
    w.services.set('api', serviceRecord(AT, { lastReleaseId: 'rel-1' }));
    // Every load balancer took the 10 % step; lb2's Runtime API now times out once (a reload).
    w.weights.blue = 90;
    w.weights.green = 10;
    const deps = {
      ...w.deps,
      sleep: async () => undefined,
      // lb2's Runtime API times out on the first read only (a reload).
      traffic: withSilentLb2(w.deps.traffic, (read) => read === 1),
    };
    await runTrafficStep(deps, { service: 'api' });
    const release = w.releases.get('rel-1');
    // Nothing moved or failed to move: no rollback "moving to 10 % failed: lb2 … timeout".
    expect(release?.rollback?.reason).toBeUndefined();
    expect(release?.state).toBe('ramping');
  });
});
