import { describe, expect, it } from 'vitest';
import type { ReleaseState } from '../../../src/domain/release.ts';
import { commsPlan, incidentDue } from '../../../src/domain/release-comms.ts';
import { releaseRecord } from '../../../testkit/release-fixtures.ts';

const T0 = '2026-11-24T10:00:00.000Z';
const rollback = { by: 'U0LEAD', reason: 'errors', at: T0 };

describe('what stakeholders hear of a release, by its state', () => {
  it.each<[ReleaseState, object, string, string[], string[], boolean]>([
    ['awaiting_approval', {}, 'none', [], [], false],
    ['rejected', {}, 'none', [], [], false],
    // A cancel before approval (even by /rollback, which records a rollback) moved nothing.
    ['cancelled', { rollback }, 'none', [], [], false],
    ['switching', {}, 'hold', ['started'], ['started'], false],
    ['ramping', {}, 'hold', ['started'], ['started'], false],
    ['observing', {}, 'hold', ['started'], ['started'], false],
    ['rolling_back', { rollback }, 'hold', ['started'], ['started'], false],
    ['released', {}, 'cut', ['started', 'released'], ['started', 'released'], false],
    [
      'rolled_back',
      { rollback },
      'cut',
      ['started', 'rolled_back'],
      ['started', 'rolled_back'],
      true,
    ],
    [
      'failed',
      { failure: 'HAProxy unreachable' },
      'cut',
      ['started', 'failed'],
      // A status page told of the start hears of the end too, or it shows the release forever.
      ['started', 'failed'],
      false,
    ],
  ])('%s: lease %s', (state, extra, lease, notices, webhooks, reminder) => {
    expect(commsPlan(releaseRecord(T0, { state, ...extra }))).toEqual({
      lease,
      notices,
      webhooks,
      incidentReminder: reminder,
    });
  });

  // Pre-switch steps (a migration) run before any traffic moves: nothing has started for
  // stakeholders yet, so a step that fails or a /rollback that cancels leaves them untold and
  // no silence behind (held, it would outlive a cancel by a whole lease with no cut).
  const migrate = {
    name: 'migrate',
    label: 'Run migration',
    reversible: true,
    timeoutSeconds: 60,
    readyAt: T0,
  };
  it.each<[string, ReleaseState, object]>([
    ['running its steps', 'running_steps', { steps: [{ ...migrate, startedAt: T0 }] }],
    ['cancelled while its steps ran', 'cancelled', { rollback, steps: [migrate] }],
    [
      'failed in a step',
      'failed',
      { failure: 'step migrate failed', steps: [{ ...migrate, startedAt: T0 }] },
    ],
  ])(
    'says nothing and holds no silence for a release %s (traffic never moved)',
    (_, state, extra) => {
      expect(commsPlan(releaseRecord(T0, { state, ...extra }))).toEqual({
        lease: 'none',
        notices: [],
        webhooks: [],
        incidentReminder: false,
      });
    },
  );

  it('tells of a failed switch after every step finished (traffic may have moved)', () => {
    const steps = [{ ...migrate, startedAt: T0, finishedAt: T0 }];
    expect(commsPlan(releaseRecord(T0, { state: 'failed', failure: 'x', steps })).notices).toEqual([
      'started',
      'failed',
    ]);
  });

  it('makes the incident report due `dueHours` after the rollback', () => {
    const release = releaseRecord(T0, { state: 'rolled_back', rollback });
    expect(incidentDue(release, 48)?.toISOString()).toBe('2026-11-26T10:00:00.000Z');
    expect(incidentDue(releaseRecord(T0, { state: 'released' }), 48)).toBeUndefined();
  });
});
