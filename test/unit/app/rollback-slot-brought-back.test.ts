import { describe, expect, it } from 'vitest';
import type { Locks } from '../../../src/app/lock-ports.ts';
import { reconcileTraffic } from '../../../src/app/reconciler.ts';
import { runRollbackStep } from '../../../src/app/use-cases/rollback-traffic.ts';
import { runTrafficStep } from '../../../src/app/use-cases/switch-traffic.ts';
import type { MemoryWorld } from '../../../testkit/memory-deps.ts';
import { exclusiveLocks } from '../../../testkit/memory-locks.ts';
import { releaseRecord } from '../../../testkit/release-fixtures.ts';
import {
  ROLLBACK_AT,
  recordBlue,
  reload,
  rollbackOnFirstInspect,
  rollbackWorld,
} from '../../../testkit/rollback-world.ts';

const AT = ROLLBACK_AT;
const world = rollbackWorld;

/** The proxy stops answering for the next `n` moves (a reload in progress). */
function unreachableFor(w: MemoryWorld, n: number) {
  const traffic = w.deps.traffic;
  let left = n;
  const refuse = () => {
    left -= 1;
    return Promise.reject(new Error('HAProxy Runtime API: connection refused'));
  };
  (w.deps as { traffic: typeof traffic }).traffic = {
    ...traffic,
    switchTo: (...args) => (left > 0 ? refuse() : traffic.switchTo(...args)),
    split: (...args) => (left > 0 ? refuse() : traffic.split(...args)),
  };
}

describe('a rollback that must bring its old slot back keeps users off that slot', () => {
  it('after the rollback failed on an unreachable proxy, a reload cannot send users to the unapproved slot', async () => {
    const w = world();
    reload(w);
    // Longer than the step's retries (three tries): a proxy that stays away fails the rollback.
    unreachableFor(w, 3);
    await runRollbackStep(w.deps, { releaseId: 'rel-1', attempt: 3 });
    const failed = w.releases.get('rel-1');
    expect(failed?.state).toBe('rolling_back');
    expect(failed?.failure).toBeDefined();
    expect(w.deploysSaw).toEqual([]);

    reload(w);
    const pass = await reconcileTraffic(w.deps, 'api');
    // Users go back to 2.4.1 (approved, live before the rollback), never to blue's 2.5.0.
    expect(pass.result).toBe('corrected');
    expect(w.weights).toEqual({ blue: 0, green: 100 });
    expect(pass.detail).toContain(
      'the rollback failed (HAProxy Runtime API: connection refused): users stay on PRODUCTION, green (2.4.1)',
    );
  });

  it('a reload that refuses the rollback’s first move for a moment does not fail it', async () => {
    const w = world();
    reload(w);
    unreachableFor(w, 1);
    await runRollbackStep(w.deps, { releaseId: 'rel-1', attempt: 3 });
    expect(w.releases.get('rel-1')?.state).toBe('rolled_back');
    // Blue was redeployed with users on green only, then took them back.
    expect(w.deploysSaw).toEqual([{ blue: 0, green: 100 }]);
    expect(w.weights).toEqual({ blue: 100, green: 0 });
  });

  it('while the rollback step waits, a traffic job or a reconcile pass moves users off that slot', async () => {
    const w = world();
    reload(w);
    await runTrafficStep(w.deps, { service: 'api' });
    expect(w.weights).toEqual({ blue: 0, green: 100 });
    reload(w);
    expect((await reconcileTraffic(w.deps, 'api')).result).toBe('corrected');
    expect(w.weights).toEqual({ blue: 0, green: 100 });
  });

  it('mid-canary, users go back to PRODUCTION even when it answers with another version, and it is never redeployed', async () => {
    // PRODUCTION is still blue (recorded 2.4.0) when the canary, at 20 % on green, is rolled
    // back; by hand, blue was changed to 2.5.0.
    const w = world({
      production: 'blue',
      release: {
        strategy: 'canary',
        canary: { steps: [5, 20, 100], stepIndex: 1, stepStartedAt: AT },
      },
    });
    recordBlue(w, '2.4.0');
    w.weights.blue = 80;
    w.weights.green = 20;
    await runRollbackStep(w.deps, { releaseId: 'rel-1', attempt: 3 });
    expect(w.deploysSaw).toEqual([]);
    expect(w.weights).toEqual({ blue: 100, green: 0 });
    expect(w.releases.get('rel-1')?.state).toBe('rolled_back');
    expect(w.posts.join('\n')).toContain('blue (PRODUCTION) answers 2.5.0, not 2.4.0');
  });

  it('mid-canary, the control loop may move users back onto PRODUCTION before the step runs', async () => {
    const w = world({
      production: 'blue',
      release: {
        strategy: 'canary',
        canary: { steps: [5, 20, 100], stepIndex: 1, stepStartedAt: AT },
      },
    });
    recordBlue(w, '2.4.0');
    w.weights.blue = 80;
    w.weights.green = 20;
    expect((await reconcileTraffic(w.deps, 'api')).result).not.toBe('skipped');
    expect(w.weights).toEqual({ blue: 100, green: 0 });
  });

  it('once the old slot runs the last good version again, the move back is the step’s alone', async () => {
    const w = world();
    recordBlue(w, '2.4.0');
    w.weights.blue = 0;
    w.weights.green = 100;
    const pass = await reconcileTraffic(w.deps, 'api');
    // The step first checks that blue answers with 2.4.0 and is healthy; the loop does not.
    expect(pass.result).toBe('skipped');
    await runTrafficStep(w.deps, { service: 'api' });
    expect(w.weights).toEqual({ blue: 0, green: 100 });
  });

  it('a reconcile pass moves traffic as it decided, not as a rollback begun meanwhile would', async () => {
    // A canary at 20 % on green, blue 2.4.0 recorded (so a rollback would move onto it).
    const w = world({
      production: 'blue',
      release: {
        state: 'ramping',
        strategy: 'canary',
        canary: { steps: [5, 20, 100], stepIndex: 1, stepStartedAt: AT },
      },
    });
    recordBlue(w, '2.4.0');
    reload(w);
    // /rollback lands between the pass's decision and its move.
    rollbackOnFirstInspect(w);
    await reconcileTraffic(w.deps, 'api');
    // Only the rollback step, after checking blue answers with 2.4.0, moves everyone onto it.
    expect(w.weights).toEqual({ blue: 80, green: 20 });
  });

  it('while the old slot is redeployed, the traffic lock is free and a reload is set back at once', async () => {
    const w = world();
    (w.deps as { locks: Locks }).locks = exclusiveLocks();
    const deploy = w.deps.deployer.deploy;
    const during: string[] = [];
    (w.deps as { deployer: typeof w.deps.deployer }).deployer = {
      deploy: async (request) => {
        // An HAProxy reload while blue is half-deployed, then the control loop's next pass.
        reload(w);
        during.push((await reconcileTraffic(w.deps, 'api')).result);
        during.push(JSON.stringify(w.weights));
        return deploy(request);
      },
    };
    await runRollbackStep(w.deps, { releaseId: 'rel-1', attempt: 3 });
    expect(during).toEqual(['corrected', JSON.stringify({ blue: 0, green: 100 })]);
    expect(w.releases.get('rel-1')?.state).toBe('rolled_back');
    expect(w.weights).toEqual({ blue: 100, green: 0 });
  });

  it('with the service key lost and a reload’s even split, PRODUCTION is taken from the rollback', async () => {
    // Rolled back from released: green became PRODUCTION when the switch set releasedAt.
    const w = world({ release: { releasedAt: AT } });
    w.services.delete('api');
    reload(w);
    await reconcileTraffic(w.deps, 'api');
    // Blue answers with the /bump's 2.5.0: users must not be moved onto it.
    expect(w.services.get('api')?.production).toBe('green');
    expect(w.weights).toEqual({ blue: 0, green: 100 });
  });

  it('blue/green: a rollback begun during a reconcile pass does not move users onto the unchecked old slot', async () => {
    // Observing on green; blue is recorded as 2.4.0 (the rollback step would check it first).
    const w = world({ release: { state: 'observing', releasedAt: AT } });
    recordBlue(w, '2.4.0');
    reload(w);
    // /rollback lands between the pass's decision and its move.
    rollbackOnFirstInspect(w);
    await reconcileTraffic(w.deps, 'api');
    expect(w.weights).toEqual({ blue: 0, green: 100 });
  });

  it('with the service key lost, the rollback is found behind a newer release that never went live', async () => {
    const w = world({ release: { releasedAt: AT } });
    // A newer release of api was asked for and cancelled; the rollback is of the live one.
    w.releases.set(
      'rel-2',
      releaseRecord('2026-11-24T10:01:00.000Z', {
        id: 'rel-2',
        version: '2.5.0',
        fromVersion: '2.4.1',
        fromSlot: 'green',
        toSlot: 'blue',
        state: 'cancelled',
      }),
    );
    w.services.delete('api');
    reload(w);
    await reconcileTraffic(w.deps, 'api');
    const adopted = w.services.get('api');
    expect(adopted?.production).toBe('green');
    expect(adopted?.lastReleaseId).toBe('rel-1');
    // Still held for the rollback: no /bump may start on the slot it brings back.
    expect(adopted?.operation?.kind).toBe('rollback');
    expect(w.weights).toEqual({ blue: 0, green: 100 });
  });

  it('an old slot that runs the last good version but is unhealthy is redeployed, and the thread says why', async () => {
    const w = world();
    recordBlue(w, '2.4.0');
    w.running.blue = '2.4.0';
    let redeployed = false;
    const deploy = w.deps.deployer.deploy;
    w.deps.deployer = {
      deploy: async (request) => {
        redeployed = true;
        return deploy(request);
      },
    };
    w.deps.probe = {
      ...w.deps.probe,
      health: async (_service, slot) =>
        slot === 'blue' && !redeployed ? { ok: false, reason: 'HTTP 503' } : { ok: true },
    };
    await runRollbackStep(w.deps, { releaseId: 'rel-1', attempt: 3 });
    expect(w.posts.join('\n')).toContain(
      'blue is unhealthy (HTTP 503), not 2.4.0 healthy: deploying 2.4.0 there again before switching back (users stay on green meanwhile)',
    );
    expect(w.deploysSaw).toEqual([{ blue: 0, green: 100 }]);
    expect(w.releases.get('rel-1')?.state).toBe('rolled_back');
  });
});

describe('a warm rollback with one slow answer', () => {
  /** Blue recorded and running 2.4.0, healthy; users on green (2.4.1). */
  const warm = () => {
    const w = world();
    recordBlue(w, '2.4.0');
    w.running.blue = '2.4.0';
    return w;
  };

  it("blue's first /version timing out still flips users back at once, with no redeploy", async () => {
    const w = warm();
    let calls = 0;
    const version = w.deps.probe.version;
    w.deps.probe = {
      ...w.deps.probe,
      version: async (s, slot) =>
        slot === 'blue' && ++calls === 1 ? { ok: false, reason: 'timed out' } : version(s, slot),
    };
    await runRollbackStep(w.deps, { releaseId: 'rel-1', attempt: 3 });
    expect(w.deploysSaw).toEqual([]);
    expect(w.releases.get('rel-1')?.state).toBe('rolled_back');
  });

  it('one /health of blue timing out after the move does not fail the rollback', async () => {
    const w = warm();
    let calls = 0;
    w.deps.probe = {
      ...w.deps.probe,
      health: async (_s, slot) =>
        slot === 'blue' && ++calls === 2 ? { ok: false, reason: 'timed out' } : { ok: true },
    };
    await runRollbackStep(w.deps, { releaseId: 'rel-1', attempt: 3 });
    expect(w.releases.get('rel-1')?.failure).toBeUndefined();
    expect(w.releases.get('rel-1')?.state).toBe('rolled_back');
  });
});
