import { describe, expect, it } from 'vitest';
import type { AppDeps } from '../../../src/app/app-deps.ts';
import { dispatchAction } from '../../../src/app/dispatch-action.ts';
import { sweepService } from '../../../src/app/sweeper.ts';
import { runAnalyzeStep } from '../../../src/app/use-cases/progressive.ts';
import { runSwitchStep } from '../../../src/app/use-cases/switch-traffic.ts';
import { stageOf } from '../../../src/domain/click-fence.ts';
import type { Release } from '../../../src/domain/release.ts';
import { apiConfig } from '../../../testkit/api-config.ts';
import { apiWorld } from '../../../testkit/api-world.ts';
import { releaseRecord } from '../../../testkit/release-fixtures.ts';
import { channelClick as click, outcome } from '../../../testkit/release-outcomes.ts';

// Final review of db53f3c..cef17f7 (switch_held, pause stages, approval deadline, updateService).
const NOW = new Date('2026-11-24T10:00:00.000Z'); // a Tuesday, no freeze
const AT = NOW.toISOString();
const YAML = apiConfig({
  roles: '{ lead: [U0LEAD, U0LEAD2], team: [U0DEV2], security: [U0SEC], cto: [U0CTO] }',
  strategy: 'canary',
  api: `    canary: { steps: [20, 50, 100], holdMinutes: 10 }
    approvalTtlMinutes: 60
    operators: [U0DEV1, U0LEAD, U0LEAD2]`,
});

const at = (deps: AppDeps, when: Date) => {
  (deps as { clock: AppDeps['clock'] }).clock = { now: () => when };
};

/** A canary at 50 % whose last Promote reaches a day-long freeze: held at 50 % by switch_held. */
async function heldAtFifty() {
  const w = apiWorld(YAML, NOW, { revision: 9 });
  w.releases.set(
    'rel-1',
    releaseRecord(AT, {
      strategy: 'canary',
      state: 'ramping',
      approvals: [{ role: 'lead', user: 'U0LEAD', at: AT }],
      canary: {
        steps: [20, 50, 100],
        stepIndex: 1,
        stepStartedAt: AT,
        awaitingPromotion: true,
        promptedAt: AT,
      },
    }),
  );
  w.weights.blue = 50;
  w.weights.green = 50;
  const drawn = stageOf(w.releases.get('rel-1') as Release);
  expect(await outcome(dispatchAction(w.deps, 'promote', 'rel-1', click('U0LEAD', drawn)))).toBe(
    'ok',
  );
  const switching = w.releases.get('rel-1') as Release;
  (w.deps.config as { freeze: unknown[] }).freeze = [
    {
      from: new Date(NOW.getTime() - 1000),
      to: new Date(NOW.getTime() + 86_400_000),
      reason: 'Black Friday',
    },
  ];
  await runSwitchStep(w.deps, { releaseId: 'rel-1', revision: switching.revision });
  const held = w.releases.get('rel-1') as Release;
  expect({ state: held.state, step: held.canary?.stepIndex }).toEqual({
    state: 'ramping',
    step: 1,
  });
  return { w, drawn };
}

describe('final review', () => {
  it('switch_held: a canary held by a freeze is not rolled back during that freeze for "nobody promoted it" (Promote is refused meanwhile)', async () => {
    const { w } = await heldAtFifty();
    // The analysis ticks on; the hold at 50 % passed long ago, so it asks for a Promote...
    at(w.deps, new Date(NOW.getTime() + 60_000));
    await runAnalyzeStep(w.deps, { releaseId: 'rel-1' });
    at(w.deps, new Date(NOW.getTime() + 11 * 60_000));
    await runAnalyzeStep(w.deps, { releaseId: 'rel-1' });
    // ...which the freeze refuses.
    const r = w.releases.get('rel-1') as Release;
    expect(
      await outcome(dispatchAction(w.deps, 'promote', 'rel-1', click('U0LEAD', stageOf(r)))),
    ).toBe('frozen');
    // 2 h later, freeze still on: the promotion deadline (pausedMinutes 60) must not roll it back.
    at(w.deps, new Date(NOW.getTime() + 2 * 3_600_000));
    await sweepService(w.deps, 'api');
    expect(w.releases.get('rel-1')?.state).toBe('ramping');
  });

  it('switch_held: the Promote that started the held switch (a double click, a lagging message) does not switch again', async () => {
    const { w, drawn } = await heldAtFifty();
    (w.deps.config as { freeze: unknown[] }).freeze = []; // the window opens again
    // The second delivery of the first click carries the stage drawn before the held switch.
    expect(await outcome(dispatchAction(w.deps, 'promote', 'rel-1', click('U0LEAD', drawn)))).toBe(
      'stale',
    );
  });

  it('sweeper: a service record that vanishes mid-sweep is not adopted (and announced) by freeOperation', async () => {
    const w = apiWorld(YAML, NOW);
    w.releases.set('rel-1', releaseRecord(AT, { state: 'cancelled', failure: 'expired' }));
    const get = w.deps.store.getService;
    let calls = 0;
    // Redis loses the record right after the sweep read it (a restart without persistence).
    (w.deps.store as { getService: typeof get }).getService = async (name) => {
      calls += 1;
      if (calls === 1) {
        const s = await get(name);
        w.services.delete(name);
        return s;
      }
      return get(name);
    };
    await sweepService(w.deps, 'api');
    expect({
      stored: w.services.has('api'),
      adopted: w.posts.filter((p) => p.startsWith('adopted')),
    }).toEqual({
      stored: false,
      adopted: [],
    });
  });
});
