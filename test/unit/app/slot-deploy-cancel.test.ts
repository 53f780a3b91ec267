import { describe, expect, it } from 'vitest';
import { deployOntoSlot } from '../../../src/app/use-cases/slot-deploy.ts';
import { apiConfig } from '../../../testkit/api-config.ts';
import { apiWorld } from '../../../testkit/api-world.ts';

const NOW = new Date('2026-11-24T10:00:00.000Z');

describe('a deploy cancelled while it waits for the slot to be ready', () => {
  it('stops waiting at once, so a /rollback that preempted it gets the slot', async () => {
    // api idle, PRODUCTION blue; a /bump deploys 2.5.0 onto green, which never reports it.
    const w = apiWorld(apiConfig(), NOW, { operation: null, lastReleaseId: null });
    let probes = 0;
    let wanted = true;
    Object.assign(w.deps, {
      // A readiness wait far longer than this test may take.
      readyTimeoutMs: 600_000,
      sleep: (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.min(ms, 20))),
      deployer: {
        deploy: async () => {
          // The /rollback arrives as the deploy command ends.
          setTimeout(() => {
            wanted = false;
          }, 50);
          return { ok: true };
        },
      },
      probe: {
        health: async () => {
          probes += 1;
          return { ok: true };
        },
        version: async () => ({ ok: true, version: '2.4.1' }),
      },
    });
    const outcome = await deployOntoSlot(w.deps, {
      service: 'api',
      slot: 'green',
      version: '2.5.0',
      id: 'bump-1',
      stillWanted: async () => wanted,
    });
    expect(outcome).toEqual({ ok: false, reason: 'cancelled', cancelled: true });
    // Nothing keeps probing the slot afterwards.
    const seen = probes;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(probes).toBe(seen);
  }, 10_000);
});
