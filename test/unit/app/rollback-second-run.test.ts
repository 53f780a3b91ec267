import { describe, expect, it } from 'vitest';
import { LockBusyError, LockLostError } from '../../../src/app/lock-ports.ts';
import { PartialMoveError } from '../../../src/app/ports.ts';
import { runEvent } from '../../../src/app/release-runner.ts';
import { sweepService } from '../../../src/app/sweeper.ts';
import { runRollbackStep } from '../../../src/app/use-cases/rollback-traffic.ts';
import { exclusiveLocks } from '../../../testkit/memory-locks.ts';
import { recordBlue, rollbackWorld } from '../../../testkit/rollback-world.ts';
import { withSilentLb2 } from '../../../testkit/silent-load-balancer.ts';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** rollbackWorld with users on green, exclusive locks, and ports that take time as real ones do. */
function world() {
  const w = rollbackWorld();
  w.weights.blue = 0;
  w.weights.green = 100;
  const { deps, running } = w;
  // An HAProxy Runtime API call, an HTTP health probe.
  const switchTo = deps.traffic.switchTo;
  deps.traffic = {
    ...deps.traffic,
    switchTo: async (...args) => {
      await tick(20);
      return switchTo(...args);
    },
  };
  const version = deps.probe.version;
  deps.probe = {
    health: async () => {
      await tick(20);
      return { ok: true };
    },
    version,
  };
  deps.locks = exclusiveLocks();
  return { w, deps, running };
}

/**
 * A deployer whose first deploy waits for `releaseFirst`, later ones 1.5 s or their abort; each
 * records the share of users on blue when it started and ended, and whether it was killed.
 */
function gatedDeployer(w: ReturnType<typeof world>['w']) {
  let releaseFirst!: () => void;
  const gate = new Promise<void>((r) => {
    releaseFirst = r;
  });
  const deploys: { n: number; blueAtStart: number; blueAtEnd: number; killed: boolean }[] = [];
  const started = { count: 0 };
  w.deps.deployer = {
    deploy: async ({ slot, version, signal }) => {
      started.count += 1;
      const n = started.count;
      const blueAtStart = w.weights.blue;
      if (n === 1) await gate;
      else
        await new Promise<void>((r) => {
          const t = setTimeout(r, 1500);
          signal?.addEventListener('abort', () => {
            clearTimeout(t);
            r();
          });
        });
      const killed = signal?.aborted === true;
      deploys.push({ n, blueAtStart, blueAtEnd: w.weights.blue, killed });
      if (!killed) w.running[slot] = version;
      return killed ? { ok: false, reason: 'killed', outputTail: '' } : { ok: true };
    },
  };
  return { deploys, started, releaseFirst };
}

/** Greenlight's rule: never deploy onto a slot that serves traffic; never kill one under users. */
function expectNoDeployUnderUsers(deploys: ReturnType<typeof gatedDeployer>['deploys']) {
  for (const d of deploys) {
    expect(d.blueAtStart, `deploy #${d.n} started with users on blue`).toBe(0);
    expect(d.blueAtEnd, `deploy #${d.n} ran (killed=${d.killed}) with users on blue`).toBe(0);
  }
}

describe('a rollback that redeploys its old slot, run twice or disturbed', () => {
  it('a /flag off during the redeploy leaves the job as it is: no second run deploys onto the slot users were moved to', async () => {
    const { w, deps } = world();
    const { deploys, started, releaseFirst } = gatedDeployer(w);
    // The only job BullMQ knows is the one for revision 3.
    w.jobState = (job) => ('attempt' in job && job.attempt === 3 ? 'pending' : 'missing');

    const a = runRollbackStep(deps, { releaseId: 'rel-1', attempt: 3 });
    while (started.count < 1) await tick(5);
    // Someone turns a flag off by hand while blue is being redeployed (set-flag records it).
    await runEvent(deps, 'rel-1', {
      type: 'flag_set',
      user: 'U0LEAD',
      name: 'new-checkout',
      percent: 0,
    });
    await sweepService(deps, 'api');
    // The attempt is still the one its job names: the sweeper sees it pending, not lost.
    expect(w.jobs.filter((j) => j.step === 'rollback')).toEqual([]);
    // Even a job for the newer revision (a sweeper before the upgrade) stands down.
    const b = runRollbackStep(deps, { releaseId: 'rel-1', attempt: 4 });
    await tick(50); // B is through its first part and waits for the deploy lock
    releaseFirst();
    await Promise.all([a, b]);
    expectNoDeployUnderUsers(deploys);
  });
  it('BullMQ running the same job again during the redeploy never deploys under users', async () => {
    const { w, deps } = world();
    const { deploys, started, releaseFirst } = gatedDeployer(w);
    // The only job BullMQ knows is the one for revision 3.
    w.jobState = (job) => ('attempt' in job && job.attempt === 3 ? 'pending' : 'missing');

    const a = runRollbackStep(deps, { releaseId: 'rel-1', attempt: 3 });
    while (started.count < 1) await tick(5);
    const b = runRollbackStep(deps, { releaseId: 'rel-1', attempt: 3 });
    await tick(50); // B is through its first part and waits for the deploy lock
    releaseFirst();
    await Promise.all([a, b]);
    expectNoDeployUnderUsers(deploys);
  });

  it('an HAProxy reload just before the redeploy is set back, and the rollback goes on', async () => {
    const { w, deps, running } = world();
    deps.deployer = {
      deploy: async ({ slot, version }) => {
        running[slot] = version;
        return { ok: true };
      },
    };
    const notifier = deps.notifier;
    deps.notifier = new Proxy(notifier, {
      get: (target, method: string) =>
        method === 'releaseNote'
          ? async (release: never, key: string, text: string) => {
              // Part 1 is done (users on green); the proxy reloads with its config file's split.
              if (key.startsWith('redeploy-')) {
                w.weights.blue = 50;
                w.weights.green = 50;
              }
              return (target as unknown as Record<string, (...a: unknown[]) => Promise<void>>)[
                method
              ]?.(release, key, text);
            }
          : (target as unknown as Record<string, unknown>)[method],
    });
    await runRollbackStep(deps, { releaseId: 'rel-1', attempt: 3 });
    const release = w.releases.get('rel-1');
    // Users are moved off blue again before its deploy, and the rollback finishes.
    expect(release?.failure).toBeUndefined();
    expect(release?.state).toBe('rolled_back');
    expect(w.weights).toEqual({ blue: 100, green: 0 });
  });

  it('while a load balancer of the fleet does not answer, blue is not redeployed', async () => {
    const { w, deps, running } = world();
    const deployed: unknown[] = [];
    deps.deployer = {
      deploy: async ({ slot, version }) => {
        deployed.push(await deps.traffic.inspect('api'));
        running[slot] = version;
        return { ok: true };
      },
    };
    deps.traffic = withSilentLb2(deps.traffic);
    await runRollbackStep(deps, { releaseId: 'rel-1', attempt: 3 });
    // Refused while a load balancer may still send users to the slot, and the thread says why.
    expect(deployed).toEqual([]);
    expect(w.releases.get('rel-1')?.failure).toContain(
      'lb2 (us) may still send users to blue (not read, or not moved), so 2.4.0 is not deployed under them: HAProxy lb2 (us): Runtime API: timeout',
    );
  });

  it('a deploy lock that lapsed during the redeploy stops the run before users are moved: it runs again', async () => {
    const { w, deps, running } = world();
    let lapsed = false;
    const locks = deps.locks;
    deps.locks = {
      withLock: (name, ttl, fn, options) =>
        locks.withLock(
          name,
          ttl,
          (lease) =>
            fn({
              assertHeld: () => {
                if (lapsed && name.startsWith('deploy-'))
                  throw new LockLostError(name, 'not renewed in time');
                lease.assertHeld();
              },
            }),
          options,
        ),
    };
    deps.deployer = {
      deploy: async ({ slot, version }) => {
        // Redis was away past the lock's expiry while the deploy ran.
        lapsed = true;
        running[slot] = version;
        return { ok: true };
      },
    };
    await expect(runRollbackStep(deps, { releaseId: 'rel-1', attempt: 3 })).rejects.toThrow(
      LockLostError,
    );
    const release = w.releases.get('rel-1');
    expect(release?.state).toBe('rolling_back');
    expect(release?.failure).toBeUndefined();
    expect(w.weights).toEqual({ blue: 0, green: 100 });
  });

  it('a traffic lock held elsewhere past its wait is not a failed rollback: the job runs again', async () => {
    const { w, deps } = world();
    const locks = deps.locks;
    let trafficWaits = 0;
    deps.locks = {
      withLock: (name, ttl, fn, options) => {
        // The first wait (part 1) gets it; the next, before the redeploy, finds it held too long.
        if (name.startsWith('traffic-') && ++trafficWaits === 2)
          return Promise.reject(new LockBusyError(name, 60_000));
        return locks.withLock(name, ttl, fn, options);
      },
    };
    await expect(runRollbackStep(deps, { releaseId: 'rel-1', attempt: 3 })).rejects.toThrow(
      LockBusyError,
    );
    expect(w.releases.get('rel-1')?.failure).toBeUndefined();
    expect(w.posts.filter((p) => p.startsWith('rollbackAlert'))).toEqual([]);
  });

  it('a fleet move off the slot that misses a load balancer is tried again before the redeploy', async () => {
    const { w, deps, running } = world();
    w.weights.blue = 50;
    w.weights.green = 50;
    let misses = 2;
    const switchTo = deps.traffic.switchTo;
    deps.traffic = {
      ...deps.traffic,
      switchTo: async (...args) => {
        if (misses-- > 0) throw new PartialMoveError('lb2: Runtime API: timeout', ['lb2']);
        return switchTo(...args);
      },
    };
    deps.deployer = {
      deploy: async ({ slot, version }) => {
        running[slot] = version;
        return { ok: true };
      },
    };
    await runRollbackStep(deps, { releaseId: 'rel-1', attempt: 3 });
    expect(w.releases.get('rel-1')?.state).toBe('rolled_back');
    expect(w.weights).toEqual({ blue: 100, green: 0 });
  });

  it('a load balancer the control loop could not reach before the rollback moved is still named', async () => {
    const { w, deps, running } = world();
    running.blue = '2.4.0';
    // Warm blue: the rollback only moves users back; the control loop already moved lb1.
    recordBlue(w, '2.4.0');
    w.weights.blue = 100;
    w.weights.green = 0;
    deps.traffic = withSilentLb2(deps.traffic);
    await runRollbackStep(deps, { releaseId: 'rel-1', attempt: 3 });
    expect(w.releases.get('rel-1')?.state).toBe('rolled_back');
    expect(w.posts.join('\n')).toContain('Rolled back on every load balancer but lb2 (us)');
  });
});
