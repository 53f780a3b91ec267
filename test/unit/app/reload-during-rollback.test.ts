import { describe, expect, it } from 'vitest';
import { reconcileTraffic } from '../../../src/app/reconciler.ts';
import type { Release } from '../../../src/domain/release.ts';
import type { ServiceState } from '../../../src/domain/service-state.ts';
import { apiConfig } from '../../../testkit/api-config.ts';
import { apiWorld } from '../../../testkit/api-world.ts';
import { releaseRecord, serviceRecord } from '../../../testkit/release-fixtures.ts';

const AT = '2026-11-26T10:00:00.000Z';

/**
 * Seen in the soak (seed 1213033605, shorter pauses): a rollback to blue had to redeploy blue (a
 * /bump it preempted had put 2.4.4 there). A HAProxy reload put blue back in service just as the
 * rollback step's first move ran, so that attempt failed and waited for its retry; the control
 * loop left the service alone because a rollback is its step's to make, and users reached the
 * unapproved 2.4.4 for seconds.
 */
function rollingBack(blue: Partial<ServiceState['slots']['blue']>, state: Release['state']) {
  const w = apiWorld(apiConfig(), new Date(AT));
  const record = serviceRecord(AT, { production: 'green' });
  w.services.set('api', {
    ...record,
    slots: { ...record.slots, blue: { ...record.slots.blue, ...blue } },
    traffic: { weights: { blue: 0, green: 100 }, at: AT },
  });
  w.releases.set(
    'rel-1',
    releaseRecord(AT, { state, rollback: { by: 'U0LEAD', reason: 'errors', at: AT } }),
  );
  // The reload: the config file's weights, both slots in service.
  w.weights.blue = 50;
  w.weights.green = 50;
  return w;
}

describe('a proxy reload while a rollback step owns the service', () => {
  it('takes traffic off the slot being brought back, onto PRODUCTION, at once', async () => {
    const w = rollingBack({ version: null, health: 'failed' }, 'rolling_back');
    const outcome = await reconcileTraffic(w.deps, 'api');
    expect(w.weights).toEqual({ blue: 0, green: 100 });
    expect(outcome.result).toBe('corrected');
    expect(w.posts.some((p) => p.includes('being brought back to 2.4.0'))).toBe(true);
  });

  it('leaves the move onto the last good slot to the step, which checks what that slot runs', async () => {
    const w = rollingBack({ version: '2.4.0', health: 'healthy' }, 'rolling_back');
    w.weights.blue = 0;
    w.weights.green = 100;
    const outcome = await reconcileTraffic(w.deps, 'api');
    expect(outcome.result).toBe('skipped');
    expect(w.weights).toEqual({ blue: 0, green: 100 });
  });

  it('leaves a switch to its step, even when the proxy drifted', async () => {
    const w = rollingBack({ version: '2.4.0', health: 'healthy' }, 'switching');
    const outcome = await reconcileTraffic(w.deps, 'api');
    expect(outcome.result).toBe('skipped');
    expect(w.weights).toEqual({ blue: 50, green: 50 });
  });
});
