import { describe, expect, it } from 'vitest';
import { operationDeadline, releaseDeadline } from '../../../src/domain/deadlines.ts';
import type { Release, ReleaseState } from '../../../src/domain/release.ts';

const SINCE = '2026-11-24T10:00:00.000Z';
const RULES = { approvalMinutes: 60, switchMinutes: 5, pausedMinutes: 30 };
const at = (minutes: number) => Date.parse(SINCE) + minutes * 60_000;

function release(state: ReleaseState, changes: Partial<Release> = {}): Release {
  return {
    id: 'rel-1',
    service: 'api',
    version: '2.4.1',
    fromVersion: '2.4.0',
    type: 'patch',
    strategy: 'bluegreen',
    requester: 'U0DEV1',
    requiredRoles: ['lead'],
    approvals: [],
    state,
    stateSince: SINCE,
    fromSlot: 'blue',
    toSlot: 'green',
    timeline: [],
    createdAt: SINCE,
    updatedAt: SINCE,
    revision: 2,
    ...changes,
  };
}

describe('deadlines', () => {
  it.each([
    ['awaiting_approval', {}, at(60), 'expire', at(30)],
    ['switching', {}, at(5), 'fail_switch', undefined],
    ['rolling_back', {}, at(5), 'retry_rollback', undefined],
    [
      'ramping',
      { paused: { by: 'greenlight', reason: 'inconclusive', at: SINCE } },
      at(30),
      'roll_back',
      at(15),
    ],
    [
      'ramping',
      {
        canary: {
          steps: [20, 100],
          stepIndex: 0,
          stepStartedAt: SINCE,
          awaitingPromotion: true,
          promptedAt: SINCE,
        },
      },
      at(30),
      'roll_back',
      at(15),
    ],
    [
      'observing',
      { paused: { by: 'U0LEAD', reason: 'looking', at: SINCE } },
      at(30),
      'roll_back',
      at(15),
    ],
  ] as const)('%s %j ends at its deadline', (state, changes, when, action, remindAt) => {
    const deadline = releaseDeadline(release(state, changes as Partial<Release>), RULES);
    expect(deadline?.at).toBe(when);
    expect(deadline?.action).toBe(action);
    expect(deadline?.remindAt).toBe(remindAt);
  });

  it.each(['ramping', 'observing', 'released', 'rolled_back', 'failed'] as const)(
    '%s, unpaused, has no deadline of its own (the analysis ends it)',
    (state) => {
      expect(releaseDeadline(release(state), RULES)).toBeUndefined();
    },
  );

  it('gives a /bump its deploy timeout, readiness wait and a minute', () => {
    const op = { id: 'bump-1', kind: 'bump' as const, by: 'U0DEV1', startedAt: SINCE };
    expect(operationDeadline(op, { deployTimeoutSeconds: 600, readyTimeoutSeconds: 120 })).toBe(
      Date.parse(SINCE) + 780_000,
    );
    expect(
      operationDeadline(
        { ...op, kind: 'release' },
        { deployTimeoutSeconds: 1, readyTimeoutSeconds: 1 },
      ),
    ).toBeUndefined();
  });
});
