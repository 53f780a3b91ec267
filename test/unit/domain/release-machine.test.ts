import { describe, expect, it } from 'vitest';
import type { Release, ReleaseState } from '../../../src/domain/release.ts';
import {
  type ReleaseEvent,
  TransitionRefused,
  transition,
} from '../../../src/domain/release-machine.ts';

const NOW = new Date('2026-11-24T10:00:00Z');

function release(state: ReleaseState, changes: Partial<Release> = {}): Release {
  return {
    id: 'rel-1',
    service: 'api',
    version: '2.4.1',
    fromVersion: '2.4.0',
    type: 'hotfix',
    strategy: 'bluegreen',
    requester: 'U0DEV1',
    requiredRoles: ['lead', 'security'],
    approvals: [],
    state,
    fromSlot: 'blue',
    toSlot: 'green',
    timeline: [],
    createdAt: NOW.toISOString(),
    updatedAt: NOW.toISOString(),
    revision: 3,
    ...changes,
  };
}

const approve = (user: string, ...roles: string[]): ReleaseEvent => ({
  type: 'approve',
  user,
  roles,
});
const rollback: ReleaseEvent = { type: 'rollback', user: 'U0LEAD', reason: 'errors' };

describe('transition', () => {
  it.each([
    ['awaiting_approval', approve('U0LEAD', 'lead'), 'awaiting_approval', []],
    ['awaiting_approval', { type: 'reject', user: 'U0LEAD' }, 'rejected', ['free_service']],
    ['awaiting_approval', rollback, 'cancelled', ['free_service']],
    [
      'switching',
      { type: 'switched' },
      'released',
      ['production', 'free_service', 'report_released'],
    ],
    [
      'switching',
      { type: 'switch_failed', reason: 'down' },
      'failed',
      ['free_service', 'drive_traffic'],
    ],
    ['switching', rollback, 'rolling_back', ['rollback_traffic']],
    ['released', rollback, 'rolling_back', ['rollback_traffic']],
    ['rolling_back', rollback, 'rolling_back', ['rollback_traffic']],
    ['awaiting_approval', { type: 'expire', reason: 'no decision' }, 'cancelled', ['free_service']],
    ['rolling_back', { type: 'rollback_failed', reason: 'haproxy down' }, 'rolling_back', []],
  ] as [ReleaseState, ReleaseEvent, ReleaseState, string[]][])(
    '%s + %j -> %s',
    (from, event, to, effects) => {
      const base = release(
        from,
        from === 'rolling_back' ? { rollback: { by: 'U0LEAD', reason: 'x', at: '' } } : {},
      );
      const result = transition(base, event, NOW);
      expect(result.release.state).toBe(to);
      expect(result.effects.map((e) => e.type)).toEqual(effects);
      expect(result.release.revision).toBe(4);
      expect(result.release.timeline).toHaveLength(1);
      expect(result.release.updatedAt).toBe(NOW.toISOString());
    },
  );

  it.each([
    ['released', approve('U0LEAD', 'lead'), 'release_ended'],
    ['rejected', rollback, 'release_ended'],
    ['rolled_back', rollback, 'release_ended'],
    ['failed', { type: 'switched' }, 'release_ended'],
    ['awaiting_approval', { type: 'switched' }, 'illegal_transition'],
    ['released', { type: 'reject', user: 'U0LEAD' }, 'release_ended'],
    ['switching', approve('U0LEAD', 'lead'), 'illegal_transition'],
  ] as [ReleaseState, ReleaseEvent, string][])('refuses %s + %j (%s)', (from, event, code) => {
    expect(() => transition(release(from), event, NOW)).toThrow(expect.objectContaining({ code }));
  });

  it('starts the switch only when every role has a different approver', () => {
    const first = transition(release('awaiting_approval'), approve('U0LEAD', 'lead'), NOW);
    expect(first.release.approvals).toEqual([
      { role: 'lead', user: 'U0LEAD', at: NOW.toISOString() },
    ]);
    const second = transition(first.release, approve('U0SEC1', 'security'), NOW);
    expect(second.release.state).toBe('switching');
    expect(second.effects).toEqual([{ type: 'switch_traffic' }]);
  });

  it('never lets the requester approve, even when they hold a role', () => {
    expect(() =>
      transition(release('awaiting_approval'), approve('U0DEV1', 'lead', 'security'), NOW),
    ).toThrow(
      'You requested this release; it needs approval from lead and security, by someone else.',
    );
  });

  it('does not let one person fill two roles', () => {
    const first = transition(
      release('awaiting_approval'),
      approve('U0BOTH', 'lead', 'security'),
      NOW,
    );
    expect(first.release.state).toBe('awaiting_approval');
    expect(() => transition(first.release, approve('U0BOTH', 'lead', 'security'), NOW)).toThrow(
      TransitionRefused,
    );
  });

  it('refuses someone who holds none of the missing roles, naming them', () => {
    expect(() => transition(release('awaiting_approval'), approve('U0DEV2', 'team'), NOW)).toThrow(
      'needs approval from lead and security',
    );
  });

  it('records who rolled back and why, and the path taken', () => {
    const released = release('released');
    const rolling = transition(released, rollback, NOW).release;
    const done = transition(rolling, { type: 'rolled_back', path: 'redeploy' }, NOW);
    expect(done.release.rollback).toEqual({
      by: 'U0LEAD',
      reason: 'errors',
      at: NOW.toISOString(),
      // The revision the rollback began at names its step's job.
      attempt: released.revision + 1,
      path: 'redeploy',
    });
    expect(done.effects.map((e) => e.type)).toEqual([
      'production',
      'free_service',
      'report_rolled_back',
    ]);
  });
});

describe('approval expiry and voiding', () => {
  const approvedAt = (at: string) => ({ role: 'lead', user: 'U0LEAD', at });

  it('drops approvals older than the TTL and keeps fresh ones', () => {
    const base = release('awaiting_approval', {
      approvals: [
        approvedAt('2026-11-24T08:00:00.000Z'),
        { role: 'security', user: 'U0SEC1', at: '2026-11-24T09:30:00.000Z' },
      ],
    });
    const result = transition(
      base,
      { type: 'expire_approvals', olderThan: '2026-11-24T09:00:00.000Z' },
      NOW,
    );
    expect(result.release.approvals.map((a) => a.role)).toEqual(['security']);
    expect(result.release.timeline.at(-1)?.what).toBe('approval expired: lead by <@U0LEAD>');
  });

  it('changes nothing (not even the revision) when no approval expired', () => {
    const base = release('awaiting_approval', {
      approvals: [approvedAt('2026-11-24T09:30:00.000Z')],
    });
    expect(
      transition(base, { type: 'expire_approvals', olderThan: '2026-11-24T09:00:00.000Z' }, NOW)
        .release,
    ).toBe(base);
  });

  it.each(['awaiting_approval', 'switching'] as const)(
    'voids every approval from %s when STANDBY changed',
    (state) => {
      const base = release(state, { approvals: [approvedAt('2026-11-24T09:30:00.000Z')] });
      const result = transition(
        base,
        { type: 'void_approvals', reason: 'green now reports 2.4.2' },
        NOW,
      );
      expect(result.release.state).toBe('awaiting_approval');
      expect(result.release.approvals).toEqual([]);
      // From switching the desired traffic went back to PRODUCTION: the reconciler must act.
      expect(result.effects.map((e) => e.type)).toEqual(
        state === 'switching' ? ['drive_traffic'] : [],
      );
    },
  );

  it('refuses to void approvals once a canary has taken traffic (a failed switch ends it)', () => {
    const base = release('switching', {
      strategy: 'canary',
      canary: { steps: [20, 100], stepIndex: 1, stepStartedAt: NOW.toISOString() },
    });
    expect(() => transition(base, { type: 'void_approvals', reason: 'x' }, NOW)).toThrow(
      TransitionRefused,
    );
  });

  it('cannot void approvals of a release already decided', () => {
    expect(() =>
      transition(release('released'), { type: 'void_approvals', reason: 'x' }, NOW),
    ).toThrow(TransitionRefused);
  });

  it('records a rollback asked outside the window and its approval by someone else', () => {
    const asked = transition(
      release('released'),
      { type: 'rollback_requested', user: 'U0DEV1', reason: 'slow' },
      NOW,
    ).release;
    expect(asked.state).toBe('released');
    expect(asked.pendingRollback).toEqual({ by: 'U0DEV1', reason: 'slow', at: NOW.toISOString() });
    const approved = transition(
      asked,
      { type: 'rollback', user: 'U0DEV1', reason: 'slow', approvedBy: 'U0LEAD' },
      NOW,
    ).release;
    expect(approved.state).toBe('rolling_back');
    expect(approved.pendingRollback).toBeUndefined();
    expect(approved.rollback).toMatchObject({ by: 'U0DEV1', approvedBy: 'U0LEAD' });
  });
});

describe('canary steps', () => {
  const canary = (stepIndex: number, extra: Partial<Release> = {}) =>
    release(stepIndex < 0 ? 'awaiting_approval' : 'ramping', {
      strategy: 'canary',
      canary: { steps: [5, 20, 100], stepIndex, stepStartedAt: '2026-11-24T09:00:00.000Z' },
      ...extra,
    });

  it('targets the first step when the last approval comes in', () => {
    const result = transition(
      canary(-1, { requiredRoles: ['lead'] }),
      approve('U0LEAD', 'lead'),
      NOW,
    );
    expect(result.release.state).toBe('switching');
    expect(result.release.canary?.stepIndex).toBe(0);
    expect(result.effects.map((e) => e.type)).toEqual(['switch_traffic']);
  });

  it('ramps after the first switch, without making the canary PRODUCTION', () => {
    const switching = { ...canary(0), state: 'switching' as const };
    const result = transition(switching, { type: 'switched' }, NOW);
    expect(result.release.state).toBe('ramping');
    expect(result.release.canary?.stepStartedAt).toBe(NOW.toISOString());
    expect(result.effects.map((e) => e.type)).toEqual(['start_analysis']);
  });

  it.each([
    [0, 'ramping', 1, ['drive_traffic']],
    [1, 'switching', 2, ['switch_traffic']],
  ] as const)('a Promote at step %i moves to %s at step %i', (from, state, to, effects) => {
    const result = transition(canary(from), { type: 'promote', user: 'U0LEAD' }, NOW);
    expect(result.release.state).toBe(state);
    expect(result.release.canary?.stepIndex).toBe(to);
    expect(result.effects.map((e) => e.type)).toEqual(effects);
  });

  it('a passed hold asks for Promote and remembers when, for its deadline', () => {
    const start = canary(0);
    const result = transition(
      start,
      { type: 'hold_passed', autoPromote: false, stepStartedAt: start.canary?.stepStartedAt ?? '' },
      NOW,
    );
    expect(result.release.canary?.awaitingPromotion).toBe(true);
    expect(result.release.canary?.promptedAt).toBe(NOW.toISOString());
  });

  it('records when the state was entered, and only then', () => {
    const entered = transition(canary(0), { type: 'promote', user: 'U0LEAD' }, NOW).release;
    expect(entered.stateSince).toBeUndefined();
    const full = transition(canary(1), { type: 'promote', user: 'U0LEAD' }, NOW).release;
    expect(full.stateSince).toBe(NOW.toISOString());
  });

  it('keeps a rollback attempt through writes that are not a new attempt, and starts a new one on a retry', () => {
    const rolling = transition(release('released'), rollback, NOW).release;
    const attempt = rolling.rollback?.attempt;
    expect(attempt).toBe(rolling.revision);
    const failed = transition(rolling, { type: 'rollback_failed', reason: 'proxy down' }, NOW);
    expect(failed.release.revision).toBe(rolling.revision + 1);
    expect(failed.release.rollback?.attempt).toBe(attempt);
    const retried = transition(failed.release, rollback, NOW).release;
    expect(retried.rollback?.attempt).toBe(failed.release.revision + 1);
  });
});
