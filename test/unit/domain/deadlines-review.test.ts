import { describe, expect, it } from 'vitest';
import { releaseDeadline } from '../../../src/domain/deadlines.ts';
import type { Release } from '../../../src/domain/release.ts';
import { transition } from '../../../src/domain/release-machine.ts';

const T0 = Date.parse('2026-11-24T10:00:00.000Z');
const RULES = { approvalMinutes: 60, switchMinutes: 5, pausedMinutes: 60 };
const min = (n: number) => new Date(T0 + n * 60_000);

function ramping(): Release {
  return {
    id: 'rel-1',
    service: 'api',
    version: '2.4.1',
    fromVersion: '2.4.0',
    type: 'patch',
    strategy: 'canary',
    requester: 'U0DEV1',
    requiredRoles: ['lead'],
    approvals: [{ role: 'lead', user: 'U0LEAD', at: min(0).toISOString() }],
    state: 'ramping',
    stateSince: min(0).toISOString(),
    fromSlot: 'blue',
    toSlot: 'green',
    canary: { steps: [20, 50, 100], stepIndex: 0, stepStartedAt: min(0).toISOString() },
    timeline: [],
    createdAt: min(0).toISOString(),
    updatedAt: min(0).toISOString(),
    revision: 5,
  };
}

describe('deadlines found by an adversarial review', () => {
  // Hold passes at 0 (Promote asked), paused at 50, resumed at 70: the Promote deadline still
  // counts from 0, so the sweeper rolls the canary back the moment the approver resumes it.
  it('a Resume is not followed at once by "nobody promoted it" rollback', () => {
    const start = ramping();
    let r = transition(
      start,
      { type: 'hold_passed', autoPromote: false, stepStartedAt: start.canary?.stepStartedAt ?? '' },
      min(0),
    ).release;
    r = transition(r, { type: 'pause', user: 'U0LEAD', reason: 'look at logs' }, min(50)).release;
    r = transition(r, { type: 'resume', user: 'U0LEAD' }, min(70)).release;
    const deadline = releaseDeadline(r, RULES);
    expect(deadline?.at ?? Number.POSITIVE_INFINITY).toBeGreaterThan(min(70).getTime());
  });

  // A rollback that failed and is asked again keeps its first stateSince (and its failure), so
  // its retry deadline has already passed when the new attempt starts: the sweeper piles a new
  // attempt (revision, job, alert) on the running one every pass.
  it('a rollback asked again gets a fresh deadline', () => {
    let r: Release = { ...ramping(), state: 'released', releasedAt: min(0).toISOString() };
    r = transition(r, { type: 'rollback', user: 'U0LEAD', reason: 'broken' }, min(1)).release;
    r = transition(r, { type: 'rollback_failed', reason: 'deploy failed' }, min(2)).release;
    r = transition(r, { type: 'rollback', user: 'U0LEAD', reason: 'again' }, min(10)).release;
    const deadline = releaseDeadline(r, RULES);
    expect(deadline?.at ?? 0).toBeGreaterThan(min(10).getTime());
  });
});
