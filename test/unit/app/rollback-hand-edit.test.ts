import { describe, expect, it } from 'vitest';
import { reconcileTraffic } from '../../../src/app/reconciler.ts';
import { runRollbackStep } from '../../../src/app/use-cases/rollback-traffic.ts';
import { proxyAsRecorded, rollbackWorld } from '../../../testkit/rollback-world.ts';

// A hand edit through the Runtime API keeps the proxy process (same start time), so "100 % on the
// old slot, which answers the last good version, same proxy" is also what an operator's edit
// looks like while a rollback is still bringing the slot back: not proof that Redis is older.

/** rollbackWorld (blue recorded 2.5.0 failed, a preempted /bump), users on green as recorded. */
function world() {
  const w = rollbackWorld();
  w.weights.blue = 0;
  w.weights.green = 100;
  proxyAsRecorded(w);
  return w;
}

describe('a hand edit onto the old slot while the rollback brings it back', () => {
  it('the control loop still sets users back off blue while 2.4.0 is being deployed there', async () => {
    const w = world();
    const during: number[] = [];
    w.deps.deployer = {
      deploy: async ({ slot, version }) => {
        // The new 2.4.0 process answers its version (readiness not reached: unhealthy).
        w.running[slot] = version;
        w.deps.probe = { ...w.deps.probe, health: async () => ({ ok: false, reason: 'starting' }) };
        // An operator sends everyone to blue by hand (Runtime API: same HAProxy process).
        w.weights.blue = 100;
        w.weights.green = 0;
        await reconcileTraffic(w.deps, 'api');
        during.push(w.weights.blue);
        w.deps.probe = { ...w.deps.probe, health: async () => ({ ok: true }) };
        return { ok: true };
      },
    };
    await runRollbackStep(w.deps, { releaseId: 'rel-1', attempt: 3 });
    // Drift: users are never left on a slot while it is deployed.
    expect(during).toEqual([0]);
  });

  it('a failed rollback (blue answers 2.4.0 but is unhealthy): a hand edit onto blue is set back', async () => {
    const w = world();
    w.running.blue = '2.4.0';
    w.deps.probe = { ...w.deps.probe, health: async () => ({ ok: false, reason: '503' }) };
    const release = w.releases.get('rel-1');
    if (release === undefined) throw new Error('no release');
    w.releases.set('rel-1', {
      ...release,
      failure: 'redeploying 2.4.0 to blue failed: not ready after 1s',
    });
    w.weights.blue = 100;
    w.weights.green = 0;
    const outcome = await reconcileTraffic(w.deps, 'api');
    // stepOwnsTraffic's doc: "after a failed rollback until its retry, a hand edit is set back".
    expect(outcome.result).toBe('corrected');
    expect(w.weights).toEqual({ blue: 0, green: 100 });
  });

  it('a /bump of 2.5.0 cut off half-way on blue, users flipped there by hand: /rollback redeploys 2.4.0', async () => {
    const w = world();
    // Three blue instances; the bump replaced one before /rollback preempted it. The version
    // endpoint is load-balanced across them.
    const instances = ['2.4.0', '2.4.0', '2.5.0'];
    let next = 0;
    w.deps.probe = {
      ...w.deps.probe,
      version: async (_service, slot) => {
        if (slot !== 'blue' || w.deploysSaw.length > 0)
          return { ok: true, version: w.running[slot] };
        const version = instances[next % instances.length] ?? '2.4.0';
        next += 1;
        return { ok: true, version };
      },
    };
    w.weights.blue = 100;
    w.weights.green = 0;
    await runRollbackStep(w.deps, { releaseId: 'rel-1', attempt: 3 });
    // Not taken as Redis being older (green still answers its recorded 2.4.1): blue is redeployed.
    expect(w.deploysSaw.length).toBe(1);
  });
});
