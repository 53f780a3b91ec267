import { describe, expect, it } from 'vitest';
import type { DeployRequest, Locks } from '../../../src/app/ports.ts';
import { runRollbackStep } from '../../../src/app/use-cases/rollback-traffic.ts';
import { deployOntoSlot } from '../../../src/app/use-cases/slot-deploy.ts';
import type { Slot } from '../../../src/domain/slots.ts';
import { apiConfig } from '../../../testkit/api-config.ts';
import { apiWorld } from '../../../testkit/api-world.ts';
import { releaseRecord, serviceRecord } from '../../../testkit/release-fixtures.ts';

const NOW = new Date('2026-11-24T10:00:00.000Z');
const AT = NOW.toISOString();

/** Locks that exclude, in one process: a holder waits for the one before it. */
function exclusiveLocks(): Locks {
  const tails = new Map<string, Promise<unknown>>();
  return {
    withLock: (name, _ttl, fn) => {
      const before = tails.get(name) ?? Promise.resolve();
      const run = before.then(() => fn({ assertHeld: () => undefined }));
      tails.set(
        name,
        run.catch(() => undefined),
      );
      return run;
    },
  };
}

/**
 * Seen in the soak (seed 1213033605): a /bump was deploying 2.4.4 onto STANDBY (blue) when a
 * Rollback click preempted it. The rollback read blue as still running 2.4.0, the version to go
 * back to, just before the deploy finished writing 2.4.4 there, and switched users to blue: a
 * version nobody approved served production.
 */
describe('a rollback onto a slot a preempted /bump is still deploying to', () => {
  it('waits for that deploy to stop, finds what the slot now runs, and redeploys the last good version before switching', async () => {
    const w = apiWorld(apiConfig(), NOW, { production: 'green', operation: null });
    w.services.set('api', serviceRecord(AT, { production: 'green' }));
    w.weights.blue = 0;
    w.weights.green = 100;
    w.releases.set('rel-1', releaseRecord(AT, { state: 'released', releasedAt: AT }));
    // What each slot's process really answers.
    const running: Record<Slot, string> = { blue: '2.4.0', green: '2.4.1' };
    const served: string[] = [];
    const deps = w.deps as unknown as Record<string, unknown>;
    deps.locks = exclusiveLocks();
    deps.probe = {
      health: async () => ({ ok: true }),
      version: async (_service: string, slot: Slot) => ({ ok: true, version: running[slot] }),
    };
    const traffic = w.deps.traffic;
    deps.traffic = {
      ...traffic,
      switchTo: async (service: string, slot: Slot, options?: never) => {
        served.push(`${slot} ${running[slot]}`);
        return traffic.switchTo(service, slot, options);
      },
    };
    let started: () => void = () => undefined;
    const bumpStarted = new Promise<void>((resolve) => {
      started = resolve;
    });
    deps.deployer = {
      deploy: async (request: DeployRequest) => {
        if (request.version === '2.4.4') {
          started();
          // The hotfix lands on blue a moment later; the process then runs until it is killed.
          await new Promise((r) => setTimeout(r, 50));
          running[request.slot] = '2.4.4';
          await new Promise<void>((resolve) =>
            request.signal?.addEventListener('abort', () => resolve(), { once: true }),
          );
          return { ok: false, reason: 'killed' };
        }
        running[request.slot] = request.version;
        return { ok: true };
      },
    };
    let bumpWanted = true;
    const bump = deployOntoSlot(w.deps, {
      service: 'api',
      slot: 'blue',
      version: '2.4.4',
      id: 'bump-1',
      stillWanted: async () => bumpWanted,
    });
    await bumpStarted;
    // The Rollback click: the release rolls back to blue, and the /bump is preempted.
    w.releases.set(
      'rel-1',
      releaseRecord(AT, {
        state: 'rolling_back',
        releasedAt: AT,
        rollback: { by: 'U0LEAD', reason: 'errors', at: AT },
      }),
    );
    bumpWanted = false;
    await runRollbackStep(w.deps, { releaseId: 'rel-1', attempt: 3 });
    expect(await bump).toMatchObject({ ok: false, cancelled: true });

    expect(w.releases.get('rel-1')?.state).toBe('rolled_back');
    expect(w.weights).toEqual({ blue: 100, green: 0 });
    // Users reached blue only once it ran 2.4.0 again.
    expect(running.blue).toBe('2.4.0');
    expect(served.filter((s) => s.startsWith('blue'))).toEqual(['blue 2.4.0']);
    expect(w.posts.some((p) => p.includes('blue no longer runs 2.4.0'))).toBe(true);
  });
});
