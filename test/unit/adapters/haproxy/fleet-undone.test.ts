import { describe, expect, it } from 'vitest';
import { HaproxyFleetSwitcher } from '../../../../src/adapters/haproxy/haproxy-fleet-switcher.ts';
import { MoveUndoneError } from '../../../../src/app/ports.ts';

type Weights = { blue: number; green: number };

/** One load balancer as the fleet sees it: weights it holds, and how its calls behave. */
function balancer(
  options: {
    failsMoves?: boolean;
    firstReadBackFails?: boolean;
    greenDownAfterReads?: number;
  } = {},
) {
  const held: Weights = { blue: 100, green: 0 };
  let reads = 0;
  let movedOnce = false;
  const state = () => ({
    serving: (['blue', 'green'] as const).filter((s) => held[s] > 0),
    weights: { ...held },
    // A health check that starts failing during a region's soak, after the move was read back.
    up:
      options.greenDownAfterReads !== undefined && reads > options.greenDownAfterReads
        ? (['blue'] as const)
        : (['blue', 'green'] as const),
  });
  return {
    held,
    switcher: {
      inspect: async () => {
        reads += 1;
        // The read-back right after its first move times out (a slow Runtime API).
        if (options.firstReadBackFails && movedOnce && reads === 2)
          throw new Error('HAProxy runtime API timed out');
        return state();
      },
      switchTo: async (_service: string, slot: 'blue' | 'green') => {
        if (options.failsMoves) throw new Error('HAProxy runtime API unreachable (ECONNREFUSED)');
        const changed = held[slot] !== 100;
        held[slot] = 100;
        held[slot === 'blue' ? 'green' : 'blue'] = 0;
        movedOnce = true;
        return { changed };
      },
    },
  };
}

describe('a fleet switch undone on the instances it reached', () => {
  it('says users went forward and back even when the move was found done on its retry', async () => {
    const a = balancer({ firstReadBackFails: true });
    const b = balancer({ failsMoves: true });
    const fleet = new HaproxyFleetSwitcher(
      new Map([
        [
          'api',
          {
            order: 'all' as const,
            regionSoakMs: 0,
            instances: [
              { name: 'lb-a', region: 'eu', switcher: a.switcher as never },
              { name: 'lb-b', region: 'eu', switcher: b.switcher as never },
            ],
          },
        ],
      ]),
      { retryDelayMs: 1 },
    );
    const error = await fleet
      .switchTo('api', 'green', { onPartialFailure: 'restore' })
      .catch((e: unknown) => e);
    expect(String(error)).toContain('lb-b (eu) failed');
    // lb-a served green for a moment and is back on blue: not to be tried again.
    expect(a.held).toEqual({ blue: 100, green: 0 });
    expect(error).toBeInstanceOf(MoveUndoneError);
  });

  it('a region that fails its check after its soak is not moved again by a retry that would skip the soak', async () => {
    const a = balancer({ greenDownAfterReads: 2 });
    const b = balancer();
    const fleet = new HaproxyFleetSwitcher(
      new Map([
        [
          'api',
          {
            order: 'region' as const,
            regionSoakMs: 0,
            instances: [
              { name: 'lb-a', region: 'eu', switcher: a.switcher as never },
              { name: 'lb-b', region: 'us', switcher: b.switcher as never },
            ],
          },
        ],
      ]),
      { retryDelayMs: 1 },
    );
    const error = await fleet
      .switchTo('api', 'green', { onPartialFailure: 'restore' })
      .catch((e: unknown) => e);
    expect(String(error)).toContain('its health check sees green as down');
    // eu's users reached green: the switch stops here, and the next region never moved.
    expect(error).toBeInstanceOf(MoveUndoneError);
    expect(b.held).toEqual({ blue: 100, green: 0 });
  });
});
