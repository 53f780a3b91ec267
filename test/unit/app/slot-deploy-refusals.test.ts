import { describe, expect, it } from 'vitest';
import type { AppDeps } from '../../../src/app/app-deps.ts';
import { deployOntoSlot } from '../../../src/app/use-cases/slot-deploy.ts';
import { apiConfig } from '../../../testkit/api-config.ts';
import { apiWorld, IDLE } from '../../../testkit/api-world.ts';
import { withSilentLb2 } from '../../../testkit/silent-load-balancer.ts';

const NOW = new Date('2026-11-27T10:00:00.000Z');

/** An idle api (PRODUCTION blue) behind two load balancers; lb2's Runtime API does not answer. */
function fleetWithSilentLb2() {
  const w = apiWorld(apiConfig(), NOW, IDLE);
  const deployed: string[] = [];
  const deps: AppDeps = {
    ...w.deps,
    traffic: withSilentLb2(w.deps.traffic),
    deployer: {
      deploy: async ({ slot, version }) => {
        deployed.push(`${version} on ${slot}`);
        return { ok: true };
      },
    },
    readyTimeoutMs: 1000,
    sleep: async () => undefined,
  };
  return { deps, deployed };
}

describe('a deploy onto STANDBY while a load balancer does not answer', () => {
  it('is refused, naming the load balancer, and nothing is deployed', async () => {
    const { deps, deployed } = fleetWithSilentLb2();
    const outcome = await deployOntoSlot(deps, {
      service: 'api',
      slot: 'green',
      version: '2.5.0',
      id: 'op-1',
      stillWanted: async () => true,
    });
    // lb1 sends no one to green, but a reload on lb2 may have: a /bump must not deploy under them.
    expect(outcome).toEqual({
      ok: false,
      reason: expect.stringContaining(
        'lb2 (us) did not answer, so Greenlight cannot tell whether users reach green through it',
      ),
    });
    expect(deployed).toEqual([]);
  });
});
