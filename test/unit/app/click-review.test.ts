import { describe, expect, it } from 'vitest';
import { dispatchAction } from '../../../src/app/dispatch-action.ts';
import { sweepService } from '../../../src/app/sweeper.ts';
import { runSwitchStep } from '../../../src/app/use-cases/switch-traffic.ts';
import { fenceValue, parseFenceValue } from '../../../src/domain/click-fence.ts';
import type { Release, ReleaseState } from '../../../src/domain/release.ts';
import { apiConfig } from '../../../testkit/api-config.ts';
import { memoryWorld } from '../../../testkit/memory-deps.ts';
import { channelClick as click, outcome, refused } from '../../../testkit/release-outcomes.ts';

// Review of issue 11: clicks that still act when they should not (or the reverse).
const NOW = new Date('2026-11-24T10:00:00.000Z'); // a Tuesday, no freeze
const AT = NOW.toISOString();
const yaml = (operators = '[U0DEV1, U0LEAD, U0LEAD2, U0OPS]') =>
  apiConfig({
    roles: '{ lead: [U0LEAD, U0LEAD2], team: [U0DEV2], security: [U0SEC], cto: [U0CTO] }',
    strategy: 'canary',
    api: `    canary: { steps: [20, 50, 100], holdMinutes: 10 }
    approvalTtlMinutes: 60
    operators: ${operators}`,
  });

function world(state: ReleaseState, extra: Partial<Release> = {}, operators?: string) {
  const w = memoryWorld(yaml(operators), NOW);
  const onGreen = state === 'observing' || state === 'released';
  const release: Release = {
    id: 'rel-1',
    service: 'api',
    version: '2.4.1',
    fromVersion: '2.4.0',
    type: 'patch',
    strategy: 'canary',
    requester: 'U0DEV1',
    requiredRoles: ['lead'],
    approvals: state === 'awaiting_approval' ? [] : [{ role: 'lead', user: 'U0LEAD', at: AT }],
    state,
    stateSince: AT,
    fromSlot: 'blue',
    toSlot: 'green',
    canary: {
      steps: [20, 50, 100],
      stepIndex: state === 'awaiting_approval' ? -1 : 0,
      stepStartedAt: AT,
    },
    ...(onGreen ? { releasedAt: AT } : {}),
    timeline: [],
    createdAt: AT,
    updatedAt: AT,
    revision: 5,
    ...extra,
  };
  w.releases.set(release.id, release);
  w.services.set('api', {
    service: 'api',
    production: onGreen ? 'green' : 'blue',
    slots: {
      blue: { version: '2.4.0', health: 'healthy', updatedAt: AT },
      green: { version: '2.4.1', health: 'healthy', updatedAt: AT },
    },
    operation: { id: 'rel-1', kind: 'release', by: 'U0DEV1', startedAt: AT, releaseId: 'rel-1' },
    lastReleaseId: 'rel-1',
    revision: 9,
  });
  if (state === 'ramping') {
    w.weights.blue = 80;
    w.weights.green = 20;
  }
  return { w, release };
}

const drawn = (r: Release) => parseFenceValue(fenceValue(r)).stage as string;

describe('click review (issue 11)', () => {
  it('an Approve after the approval deadline, before the sweeper runs, does not switch traffic', async () => {
    const twoHoursAgo = new Date(NOW.getTime() - 120 * 60_000).toISOString();
    const { w, release } = world('awaiting_approval', {
      createdAt: twoHoursAgo,
      stateSince: twoHoursAgo,
      updatedAt: twoHoursAgo,
    });
    // The sweeper would cancel it now (deadline = approvalTtlMinutes = 60 min) ...
    const result = await outcome(
      dispatchAction(w.deps, 'approve', release.id, click('U0LEAD', drawn(release))),
    );
    // ... but a click that arrives first must not act on an expired release.
    expect(result).not.toBe('ok');
    expect(w.releases.get('rel-1')?.state).not.toBe('switching');
    expect(w.jobs).toEqual([]);
  });

  it('the sweeper does expire that same release (control)', async () => {
    const twoHoursAgo = new Date(NOW.getTime() - 120 * 60_000).toISOString();
    const { w } = world('awaiting_approval', { createdAt: twoHoursAgo, stateSince: twoHoursAgo });
    await sweepService(w.deps, 'api');
    expect(w.releases.get('rel-1')?.state).toBe('cancelled');
  });

  it('a double-clicked Abort rolls back once: the second delivery changes nothing', async () => {
    const { w, release } = world('ramping');
    const stage = drawn(release);
    expect(await outcome(dispatchAction(w.deps, 'abort', release.id, click('U0LEAD', stage)))).toBe(
      'ok',
    );
    const afterFirst = JSON.stringify(w.releases.get('rel-1'));
    const jobs = w.jobs.length;
    const alerts = w.posts.filter((p) => p.startsWith('rollbackAlert')).length;
    const second = await outcome(
      dispatchAction(w.deps, 'abort', release.id, click('U0LEAD2', stage)),
    );
    expect({
      second,
      sameRelease: JSON.stringify(w.releases.get('rel-1')) === afterFirst,
      jobs: w.jobs.length,
      alerts: w.posts.filter((p) => p.startsWith('rollbackAlert')).length,
    }).toEqual({ second: 'stale', sameRelease: true, jobs, alerts });
  });

  it('a Promote drawn before someone paused the canary does not advance it', async () => {
    const { w, release } = world('ramping');
    const stage = drawn(release); // the message as U0LEAD2 still sees it: ramping.0, not paused
    expect(await outcome(dispatchAction(w.deps, 'pause', release.id, click('U0LEAD', stage)))).toBe(
      'ok',
    );
    expect(w.releases.get('rel-1')?.paused).toBeDefined();
    const promoted = await outcome(
      dispatchAction(w.deps, 'promote', release.id, click('U0LEAD2', stage)),
    );
    const after = w.releases.get('rel-1');
    expect({
      promoted,
      step: after?.canary?.stepIndex,
      paused: after?.paused !== undefined,
    }).toEqual({ promoted: 'stale', step: 0, paused: true });
  });

  it('a Resume from a message drawn during an earlier pause does not lift a newer pause', async () => {
    const { w, release } = world('ramping', {
      paused: { by: 'greenlight', reason: 'inconclusive: thin traffic', at: AT },
    });
    const old = drawn(release); // the message showing Resume for the automatic pause
    expect(await outcome(dispatchAction(w.deps, 'resume', release.id, click('U0LEAD', old)))).toBe(
      'ok',
    );
    // A lead sees a problem and pauses again; the requester still has the old message open.
    const resumed = w.releases.get('rel-1') as Release;
    expect(
      await outcome(dispatchAction(w.deps, 'pause', release.id, click('U0LEAD2', drawn(resumed)))),
    ).toBe('ok');
    const second = await outcome(
      dispatchAction(w.deps, 'resume', release.id, click('U0DEV1', old)),
    );
    expect({ second, paused: w.releases.get('rel-1')?.paused?.by }).toEqual({
      second: 'stale',
      paused: 'U0LEAD2',
    });
  });

  it('an Approve from a message without a stage (drawn before fencing) is refused like other forward buttons', async () => {
    const { w, release } = world('awaiting_approval');
    const result = await outcome(
      dispatchAction(w.deps, 'approve', release.id, click('U0LEAD', undefined)),
    );
    expect(result).toBe('stale');
  });

  it.each([
    ['promote', 'ramping.0.1'],
    ['promote', 'ramping.'],
    ['promote', 'RAMPING.0'],
    ['promote', 'ramping.00'],
    ['promote', 'ramping.-0'],
    ['promote', 'switching.0'],
    ['promote', ''],
  ] as const)('crafted stage: %s with %j is refused', async (button, stage) => {
    const { w, release } = world('ramping');
    const before = JSON.stringify(w.releases.get('rel-1'));
    expect(
      await outcome(dispatchAction(w.deps, button, release.id, click('U0LEAD', stage))),
    ).not.toBe('ok');
    expect(JSON.stringify(w.releases.get('rel-1'))).toBe(before);
  });

  it('operators per command without `release`: an outsider can neither reject, approve, promote nor pause', async () => {
    for (const [button, state] of [
      ['reject', 'awaiting_approval'],
      ['approve', 'awaiting_approval'],
      ['promote', 'ramping'],
      ['pause', 'ramping'],
      ['abort', 'ramping'],
    ] as const) {
      const { w, release } = world(state, {}, '{ rollback: [U0OPS] }');
      const r = await outcome(
        dispatchAction(w.deps, button, release.id, click('U0OUT', drawn(release))),
      );
      expect([button, r]).toEqual([button, 'not_allowed']);
    }
  });

  it('an unresolvable user group grants nothing (role via group S0GONE)', async () => {
    const { w, release } = world('awaiting_approval', {}, '{ rollback: [U0OPS] }');
    (w.deps.config.roles as Record<string, string[]>).lead = ['S0GONE'];
    const r = await outcome(
      dispatchAction(w.deps, 'reject', release.id, click('U0OUT', drawn(release))),
    );
    expect(r).toBe('not_allowed');
  });

  it('an Approve drawn at awaiting_approval after approvals were voided and the release re-drawn still counts (the same release, re-checked)', async () => {
    const { w, release } = world('awaiting_approval');
    const stage = drawn(release);
    // void: STANDBY reported another version, approvals voided, STANDBY back to 2.4.1
    const r = await outcome(dispatchAction(w.deps, 'approve', release.id, click('U0LEAD', stage)));
    expect(r).toBe('ok');
  });

  it('a Reject whose channel is another channel (forged modal metadata) is refused', async () => {
    const { w, release } = world('awaiting_approval');
    const r = await outcome(
      dispatchAction(w.deps, 'reject', release.id, {
        user: 'U0LEAD',
        channel: 'C0OTHER',
        stage: drawn(release),
        reason: 'no',
      }),
    );
    expect(r).toBe('not_allowed');
  });

  it('a canary at 50 % whose last Promote job lands in a freeze holds at 50 % instead of failing back to 0 %', async () => {
    const { w, release } = world('ramping', {
      canary: { steps: [20, 50, 100], stepIndex: 1, stepStartedAt: AT },
    });
    w.weights.blue = 50;
    w.weights.green = 50;
    expect(
      await outcome(dispatchAction(w.deps, 'promote', release.id, click('U0LEAD', 'ramping.1'))),
    ).toBe('ok');
    const switching = w.releases.get('rel-1') as Release;
    expect(switching.state).toBe('switching');
    // A freeze starts before the worker runs the switch step.
    (w.deps.config as { freeze: unknown[] }).freeze = [
      {
        from: new Date(NOW.getTime() - 1000),
        to: new Date(NOW.getTime() + 86_400_000),
        reason: 'Black Friday',
      },
    ];
    await runSwitchStep(w.deps, { releaseId: 'rel-1', revision: switching.revision });
    const after = w.releases.get('rel-1');
    expect(after?.failure ?? '').not.toContain('the calendar closed');
    expect({ state: after?.state, green: w.weights.green }).toEqual({
      state: 'ramping',
      green: 50,
    });
  });

  it("an old release's Approve, clicked while a newer release waits, points to the newer one", async () => {
    const { w, release } = world('rolled_back');
    const stage = drawn({ ...release, state: 'awaiting_approval' });
    const newer: Release = {
      ...release,
      id: 'rel-2',
      version: '2.4.2',
      state: 'awaiting_approval',
      approvals: [],
    };
    w.releases.set('rel-2', newer);
    const service = w.services.get('api');
    if (service === undefined) throw new Error('no service');
    w.services.set('api', { ...service, lastReleaseId: 'rel-2' });
    const error = await refused(dispatchAction(w.deps, 'approve', 'rel-1', click('U0LEAD', stage)));
    expect(error.message).toBe('api 2.4.1 was rolled back: this message is out of date.');
    expect(error.hint).toBe(
      'Nothing was changed. api 2.4.2 is waiting for approval: use its own message. See /release status api.',
    );
    expect(w.releases.get('rel-2')?.approvals).toEqual([]);
  });
});
