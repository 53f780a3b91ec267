import { describe, expect, it } from 'vitest';
import { staleClick } from '../../../src/domain/click-fence.ts';
import { releaseDeadline } from '../../../src/domain/deadlines.ts';
import { desiredTraffic } from '../../../src/domain/desired-traffic.ts';
import { type PreSwitchStep, stepStage } from '../../../src/domain/pre-switch-steps.ts';
import type { Release } from '../../../src/domain/release.ts';
import {
  type ReleaseEvent,
  TransitionRefused,
  transition,
} from '../../../src/domain/release-machine.ts';
import { manualClock } from '../../../testkit/clock.ts';
import { releaseRecord, serviceRecord } from '../../../testkit/release-fixtures.ts';

const START = '2026-11-24T10:00:00.000Z';
const RULES = { approvalMinutes: 60, switchMinutes: 5, pausedMinutes: 30 };
const RUNBOOK = 'https://runbooks.example.com/migrate';

const migrate: PreSwitchStep = {
  name: 'migrate',
  label: 'Run migration (cannot be undone)',
  reversible: false,
  approverRole: 'dba',
  compensation: RUNBOOK,
  owner: 'U0OWNER',
  timeoutSeconds: 120,
};
const warm: PreSwitchStep = {
  name: 'warm-cache',
  label: 'Run warm-cache',
  reversible: true,
  timeoutSeconds: 60,
};

function pending(steps: PreSwitchStep[]): Release {
  return releaseRecord(START, { steps });
}

/** Applies events in turn, the clock moving `stepMs` before each; returns every result. */
function run(release: Release, events: ReleaseEvent[], stepMs = 1000) {
  const clock = manualClock(START);
  let current = release;
  return events.map((event) => {
    clock.advance(stepMs);
    const result = transition(current, event, clock.now());
    current = result.release;
    return result;
  });
}

const refusal = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    if (error instanceof TransitionRefused) return { code: error.code, message: error.message };
    throw error;
  }
  return undefined;
};

describe('pre-switch steps in the release machine', () => {
  it('after the last approval runs a reversible first step at once, before any switch', () => {
    const [approved] = run(pending([warm, migrate]), [
      { type: 'approve', user: 'U0LEAD', roles: ['lead'] },
    ]);
    expect(approved?.release.state).toBe('running_steps');
    expect(approved?.effects.map((e) => e.type)).toEqual(['run_step']);
    expect(approved?.release.steps?.[0]?.readyAt).toBe('2026-11-24T10:00:01.000Z');
  });

  it('waits for the irreversible step’s own approval: no job, no switch', () => {
    const [approved] = run(pending([migrate]), [
      { type: 'approve', user: 'U0LEAD', roles: ['lead'] },
    ]);
    expect(approved?.release.state).toBe('running_steps');
    expect(approved?.effects).toEqual([]);
  });

  it('refuses the requester and anyone outside the approver role; accepts a dba once', () => {
    const [approved] = run(pending([migrate]), [
      { type: 'approve', user: 'U0LEAD', roles: ['lead'] },
    ]);
    const waiting = approved?.release as Release;
    const now = new Date('2026-11-24T10:01:00.000Z');
    const byRequester = refusal(() =>
      transition(waiting, { type: 'approve_step', user: 'U0DEV1', roles: ['dba'], index: 0 }, now),
    );
    expect(byRequester?.code).toBe('not_allowed');
    expect(byRequester?.message).toContain('someone else in dba');
    const byLead = refusal(() =>
      transition(waiting, { type: 'approve_step', user: 'U0LEAD', roles: [], index: 0 }, now),
    );
    expect(byLead?.code).toBe('not_allowed');
    const ok = transition(
      waiting,
      { type: 'approve_step', user: 'U0DBA', roles: ['dba'], index: 0 },
      now,
    );
    expect(ok.release.steps?.[0]?.approvedBy).toBe('U0DBA');
    expect(ok.effects).toEqual([{ type: 'run_step' }]);
    const twice = refusal(() =>
      transition(
        ok.release,
        { type: 'approve_step', user: 'U0DBA2', roles: ['dba'], index: 0 },
        now,
      ),
    );
    expect(twice?.code).toBe('already_approved');
  });

  it('starts an irreversible step once; a second start is refused, a reversible one may restart', () => {
    const results = run(pending([migrate]), [
      { type: 'approve', user: 'U0LEAD', roles: ['lead'] },
      { type: 'approve_step', user: 'U0DBA', roles: ['dba'], index: 0 },
      { type: 'step_started', index: 0 },
    ]);
    const started = results[2]?.release as Release;
    expect(started.steps?.[0]?.startedAt).toBe('2026-11-24T10:00:03.000Z');
    expect(
      refusal(() => transition(started, { type: 'step_started', index: 0 }, new Date()))?.code,
    ).toBe('illegal_transition');
    const rerun = run(pending([warm]), [
      { type: 'approve', user: 'U0LEAD', roles: ['lead'] },
      { type: 'step_started', index: 0 },
      { type: 'step_started', index: 0 },
    ]);
    expect(rerun[2]?.release.steps?.[0]?.startedAt).toBe('2026-11-24T10:00:03.000Z');
  });

  it('goes through the steps in order, then switches traffic', () => {
    const results = run(pending([warm, migrate]), [
      { type: 'approve', user: 'U0LEAD', roles: ['lead'] },
      { type: 'step_started', index: 0 },
      { type: 'step_finished', index: 0 },
      { type: 'approve_step', user: 'U0DBA', roles: ['dba'], index: 1 },
      { type: 'step_started', index: 1 },
      { type: 'step_finished', index: 1 },
    ]);
    // The migration waits for its approval: no job between the first step and the click.
    expect(results[2]?.effects).toEqual([]);
    expect(results[2]?.release.state).toBe('running_steps');
    const done = results[5];
    expect(done?.release.state).toBe('switching');
    expect(done?.effects).toEqual([{ type: 'switch_traffic' }]);
    // An event for a step already past is out of date.
    expect(
      refusal(() =>
        transition(results[2]?.release as Release, { type: 'step_finished', index: 0 }, new Date()),
      )?.code,
    ).toBe('illegal_transition');
  });

  it('a failed step fails the release, traffic untouched, naming the runbook and how to retry', () => {
    const results = run(pending([migrate]), [
      { type: 'approve', user: 'U0LEAD', roles: ['lead'] },
      { type: 'approve_step', user: 'U0DBA', roles: ['dba'], index: 0 },
      { type: 'step_started', index: 0 },
      { type: 'step_failed', index: 0, reason: 'step migrate exited with code 3' },
    ]);
    const failed = results[3];
    expect(failed?.release.state).toBe('failed');
    expect(failed?.effects.map((e) => e.type)).toEqual(['free_service', 'drive_traffic']);
    expect(failed?.release.failure).toContain('exited with code 3');
    expect(failed?.release.failure).toContain('PRODUCTION stays on blue (2.4.0)');
    expect(failed?.release.failure).toContain(RUNBOOK);
    expect(failed?.release.failure).toContain('/release api again');
  });

  it('/rollback while steps run cancels before traffic moves, and says the data needs the runbook', () => {
    const results = run(pending([migrate]), [
      { type: 'approve', user: 'U0LEAD', roles: ['lead'] },
      { type: 'approve_step', user: 'U0DBA', roles: ['dba'], index: 0 },
      { type: 'step_started', index: 0 },
      { type: 'rollback', user: 'U0LEAD', reason: 'wrong build' },
    ]);
    const cancelled = results[3]?.release as Release;
    expect(cancelled.state).toBe('cancelled');
    expect(cancelled.timeline.at(-1)?.what).toContain(`compensation runbook ${RUNBOOK}`);
    expect(cancelled.timeline.at(-1)?.what).toContain('<@U0OWNER>');
  });
});

describe('deadlines of pre-switch steps (manual clock)', () => {
  it('a step waiting for approval fails after approvalMinutes, reminded half-way', () => {
    const [approved] = run(pending([migrate]), [
      { type: 'approve', user: 'U0LEAD', roles: ['lead'] },
    ]);
    const deadline = releaseDeadline(approved?.release as Release, RULES);
    expect(deadline?.action).toBe('fail_steps');
    expect(deadline?.at).toBe(Date.parse('2026-11-24T11:00:01.000Z'));
    expect(deadline?.remindAt).toBe(Date.parse('2026-11-24T10:30:01.000Z'));
    expect(deadline?.reason).toContain('nobody approved migrate');
  });

  it('a running step fails after its timeout plus switchMinutes from its start', () => {
    const results = run(
      pending([migrate]),
      [
        { type: 'approve', user: 'U0LEAD', roles: ['lead'] },
        { type: 'approve_step', user: 'U0DBA', roles: ['dba'], index: 0 },
        { type: 'step_started', index: 0 },
      ],
      60_000,
    );
    const deadline = releaseDeadline(results[2]?.release as Release, RULES);
    // Started at 10:03; 120 s timeout and 5 min margin.
    expect(new Date(deadline?.at ?? 0).toISOString()).toBe('2026-11-24T10:10:00.000Z');
    expect(deadline?.remindAt).toBeUndefined();
  });
});

describe('ending after an irreversible step finished (review)', () => {
  const migrated: ReleaseEvent[] = [
    { type: 'approve', user: 'U0LEAD', roles: ['lead'] },
    { type: 'approve_step', user: 'U0DBA', roles: ['dba'], index: 0 },
    { type: 'step_started', index: 0 },
    { type: 'step_finished', index: 0 },
  ];

  it('a switch that fails after the migration says the data layer needs the runbook', () => {
    const results = run(pending([migrate]), [
      ...migrated,
      { type: 'switch_failed', reason: 'the calendar closed before traffic moved' },
    ]);
    const failed = results.at(-1)?.release as Release;
    expect(failed.state).toBe('failed');
    expect(failed.failure).toContain('the calendar closed');
    expect(failed.failure).toContain(RUNBOOK);
    expect(failed.failure).toContain('<@U0OWNER>');
  });

  it('approvals voided at the switch, then expired or rejected: the data layer is still named', () => {
    const voided = [...migrated, { type: 'void_approvals', reason: 'STANDBY changed' } as const];
    const expired = run(pending([migrate]), [
      ...voided,
      { type: 'expire', reason: 'nobody approved within 60 min' },
    ]).at(-1)?.release as Release;
    expect(expired.state).toBe('cancelled');
    expect(expired.failure).toContain(RUNBOOK);
    const rejected = run(pending([migrate]), [
      ...voided,
      { type: 'reject', user: 'U0LEAD', reason: 'wrong build' },
    ]).at(-1)?.release as Release;
    expect(rejected.state).toBe('rejected');
    expect(rejected.timeline.at(-1)?.what).toContain(RUNBOOK);
  });

  it('a switch failing for a release whose steps are all reversible adds nothing about data', () => {
    const results = run(pending([warm]), [
      { type: 'approve', user: 'U0LEAD', roles: ['lead'] },
      { type: 'step_started', index: 0 },
      { type: 'step_finished', index: 0 },
      { type: 'switch_failed', reason: 'HAProxy down' },
    ]);
    expect(results.at(-1)?.release.failure).toBe('HAProxy down');
  });
});

describe('a canary service with steps (review)', () => {
  it('keeps all traffic on PRODUCTION while steps run, then the switch moves only the first canary share', () => {
    const canary = releaseRecord(START, {
      strategy: 'canary',
      steps: [warm],
      canary: { steps: [5, 20, 100], stepIndex: -1, stepStartedAt: START },
    });
    const service = serviceRecord(START);
    const [approved, started, finished] = run(canary, [
      { type: 'approve', user: 'U0LEAD', roles: ['lead'] },
      { type: 'step_started', index: 0 },
      { type: 'step_finished', index: 0 },
    ]);
    expect(approved?.release.state).toBe('running_steps');
    expect(approved?.effects.map((e) => e.type)).not.toContain('switch_traffic');
    for (const during of [approved, started]) {
      const desired = desiredTraffic(service, during?.release as Release);
      expect(desired.weights).toEqual({ blue: 100, green: 0 });
    }
    expect(finished?.release.state).toBe('switching');
    expect(desiredTraffic(service, finished?.release as Release).weights).toEqual({
      blue: 95,
      green: 5,
    });
  });
});

describe('Approve-step clicks (review)', () => {
  it('a click drawn for the first irreversible step cannot approve the second, nor twice the first', () => {
    const backfill: PreSwitchStep = { ...migrate, name: 'backfill', label: 'Run backfill' };
    const [approved, ...rest] = run(pending([migrate, backfill]), [
      { type: 'approve', user: 'U0LEAD', roles: ['lead'] },
      { type: 'approve_step', user: 'U0DBA', roles: ['dba'], index: 0 },
      { type: 'step_started', index: 0 },
      { type: 'step_finished', index: 0 },
    ]);
    const first = approved?.release as Release;
    const drawnForFirst = stepStage(first);
    expect(staleClick('approve_step', drawnForFirst, first)).toBeUndefined();
    const afterApproval = rest[0]?.release as Release;
    expect(staleClick('approve_step', drawnForFirst, afterApproval)).toContain(
      'no step waits for approval now',
    );
    const second = rest.at(-1)?.release as Release;
    expect(second.state).toBe('running_steps');
    expect(staleClick('approve_step', drawnForFirst, second)).toContain('another step');
    expect(staleClick('approve_step', stepStage(second), second)).toBeUndefined();
  });
});
