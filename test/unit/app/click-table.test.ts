import { describe, expect, it } from 'vitest';
import {
  type Click,
  dispatchAction,
  type ReleaseButton,
} from '../../../src/app/dispatch-action.ts';
import { ReleaseError } from '../../../src/app/release-error.ts';
import { fenceValue, parseFenceValue, stepFenceValue } from '../../../src/domain/click-fence.ts';
import type { Release, ReleaseState } from '../../../src/domain/release.ts';
import type { ServiceState } from '../../../src/domain/service-state.ts';
import { apiConfig } from '../../../testkit/api-config.ts';
import { memoryWorld } from '../../../testkit/memory-deps.ts';

const NOW = new Date('2026-11-24T10:00:00.000Z'); // a Tuesday; no freeze configured
const AT = NOW.toISOString();
const CONFIG = apiConfig({
  strategy: 'canary',
  api: `    canary: { steps: [20, 100], holdMinutes: 10 }
    operators: [U0DEV1, U0LEAD, U0OPS]`,
});

const STATES: readonly ReleaseState[] = [
  'awaiting_approval',
  'running_steps',
  'switching',
  'ramping',
  'observing',
  'released',
  'rejected',
  'cancelled',
  'failed',
  'rolling_back',
  'rolled_back',
];

/** Traffic has reached the new slot in these states: it is PRODUCTION. */
const ON_GREEN: readonly ReleaseState[] = ['observing', 'released', 'rolling_back'];

function release(id: string, state: ReleaseState, extra: Partial<Release> = {}): Release {
  return {
    id,
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
      steps: [20, 100],
      stepIndex: state === 'awaiting_approval' ? -1 : 0,
      stepStartedAt: AT,
    },
    ...(ON_GREEN.includes(state) ? { releasedAt: AT } : {}),
    ...(state === 'rolling_back' ? { rollback: { by: 'U0LEAD', reason: 'errors', at: AT } } : {}),
    ...(state === 'released'
      ? { pendingRollback: { by: 'U0DEV2', reason: 'slow checkout', at: AT } }
      : {}),
    // Every release here had an irreversible migration; only a running_steps one still waits on it.
    steps: [
      {
        name: 'migrate',
        label: 'Run migration (cannot be undone)',
        reversible: false,
        approverRole: 'lead',
        compensation: 'https://runbooks.example.com/migrate',
        timeoutSeconds: 60,
        readyAt: AT,
        ...(state === 'running_steps' || state === 'awaiting_approval'
          ? {}
          : { approvedBy: 'U0LEAD', startedAt: AT, finishedAt: AT }),
      },
    ],
    timeline: [],
    createdAt: AT,
    updatedAt: AT,
    revision: 5,
    ...extra,
  };
}

function world(state: ReleaseState) {
  const w = memoryWorld(CONFIG, NOW);
  const current = release('rel-now', state);
  // An older release of the same service, long superseded, whose message is still in the channel.
  const old = release('rel-old', 'released', {
    version: '2.3.9',
    fromVersion: '2.3.8',
    createdAt: '2026-11-20T10:00:00.000Z',
    pendingRollback: { by: 'U0DEV2', reason: 'old', at: '2026-11-20T11:00:00.000Z' },
  });
  w.releases.set(old.id, old);
  w.releases.set(current.id, current);
  const production = ON_GREEN.includes(state) ? 'green' : 'blue';
  const service: ServiceState = {
    service: 'api',
    production,
    slots: {
      blue: { version: '2.4.0', health: 'healthy', updatedAt: AT },
      green: { version: '2.4.1', health: 'healthy', updatedAt: AT },
    },
    operation: [
      'awaiting_approval',
      'running_steps',
      'switching',
      'ramping',
      'observing',
      'rolling_back',
    ].includes(state)
      ? { id: current.id, kind: 'release', by: 'U0DEV1', startedAt: AT, releaseId: current.id }
      : null,
    lastReleaseId: current.id,
    revision: 9,
  };
  w.services.set('api', service);
  w.weights.blue = production === 'blue' ? 100 : 0;
  w.weights.green = production === 'green' ? 100 : 0;
  return { w, current, old };
}

type Relation = 'requester' | 'approver' | 'operator' | 'outsider' | 'other channel' | 'stale';
const RELATIONS: readonly Relation[] = [
  'requester',
  'approver',
  'operator',
  'outsider',
  'other channel',
  'stale',
];

/** The click as Slack would deliver it for each relation, on the message as last drawn. */
function clickFor(
  button: ReleaseButton,
  relation: Relation,
  current: Release,
  old: Release,
): { id: string; click: Click } {
  const drawn = (r: Release) =>
    parseFenceValue(button === 'approve_step' ? stepFenceValue(r) : fenceValue(r)).stage;
  const user = { requester: 'U0DEV1', approver: 'U0LEAD', operator: 'U0OPS', outsider: 'U0OUT' };
  switch (relation) {
    case 'other channel':
      return {
        id: current.id,
        click: { user: 'U0LEAD', channel: 'C0OTHER', stage: drawn(current) },
      };
    case 'stale':
      return { id: old.id, click: { user: 'U0LEAD', channel: 'C0RELEASES', stage: drawn(old) } };
    default:
      return {
        id: current.id,
        click: { user: user[relation], channel: 'C0RELEASES', stage: drawn(current) },
      };
  }
}

// Outcomes written out by hand from the rules in issue 11, one row per state, columns in
// RELATIONS order: requester, approver, operator, outsider, other channel, stale.
// ok: acted. stale: refused as out of date. deny: not allowed. none: nothing to act on.
type Outcome = 'ok' | 'stale' | 'deny' | 'none';
const EXPECTED: Record<ReleaseButton, Record<ReleaseState, readonly Outcome[]>> = {
  approve: {
    awaiting_approval: ['deny', 'ok', 'deny', 'deny', 'deny', 'stale'],
    running_steps: ['stale', 'stale', 'stale', 'stale', 'deny', 'stale'],
    switching: ['stale', 'stale', 'stale', 'stale', 'deny', 'stale'],
    ramping: ['stale', 'stale', 'stale', 'stale', 'deny', 'stale'],
    observing: ['stale', 'stale', 'stale', 'stale', 'deny', 'stale'],
    released: ['stale', 'stale', 'stale', 'stale', 'deny', 'stale'],
    rejected: ['stale', 'stale', 'stale', 'stale', 'deny', 'stale'],
    cancelled: ['stale', 'stale', 'stale', 'stale', 'deny', 'stale'],
    failed: ['stale', 'stale', 'stale', 'stale', 'deny', 'stale'],
    rolling_back: ['stale', 'stale', 'stale', 'stale', 'deny', 'stale'],
    rolled_back: ['stale', 'stale', 'stale', 'stale', 'deny', 'stale'],
  },
  reject: {
    awaiting_approval: ['ok', 'ok', 'ok', 'deny', 'deny', 'stale'],
    running_steps: ['stale', 'stale', 'stale', 'stale', 'deny', 'stale'],
    switching: ['stale', 'stale', 'stale', 'stale', 'deny', 'stale'],
    ramping: ['stale', 'stale', 'stale', 'stale', 'deny', 'stale'],
    observing: ['stale', 'stale', 'stale', 'stale', 'deny', 'stale'],
    released: ['stale', 'stale', 'stale', 'stale', 'deny', 'stale'],
    rejected: ['stale', 'stale', 'stale', 'stale', 'deny', 'stale'],
    cancelled: ['stale', 'stale', 'stale', 'stale', 'deny', 'stale'],
    failed: ['stale', 'stale', 'stale', 'stale', 'deny', 'stale'],
    rolling_back: ['stale', 'stale', 'stale', 'stale', 'deny', 'stale'],
    rolled_back: ['stale', 'stale', 'stale', 'stale', 'deny', 'stale'],
  },
  promote: {
    awaiting_approval: ['stale', 'stale', 'stale', 'stale', 'deny', 'stale'],
    running_steps: ['stale', 'stale', 'stale', 'stale', 'deny', 'stale'],
    switching: ['stale', 'stale', 'stale', 'stale', 'deny', 'stale'],
    ramping: ['deny', 'ok', 'deny', 'deny', 'deny', 'stale'],
    observing: ['stale', 'stale', 'stale', 'stale', 'deny', 'stale'],
    released: ['stale', 'stale', 'stale', 'stale', 'deny', 'stale'],
    rejected: ['stale', 'stale', 'stale', 'stale', 'deny', 'stale'],
    cancelled: ['stale', 'stale', 'stale', 'stale', 'deny', 'stale'],
    failed: ['stale', 'stale', 'stale', 'stale', 'deny', 'stale'],
    rolling_back: ['stale', 'stale', 'stale', 'stale', 'deny', 'stale'],
    rolled_back: ['stale', 'stale', 'stale', 'stale', 'deny', 'stale'],
  },
  pause: {
    awaiting_approval: ['stale', 'stale', 'stale', 'stale', 'deny', 'stale'],
    running_steps: ['stale', 'stale', 'stale', 'stale', 'deny', 'stale'],
    switching: ['stale', 'stale', 'stale', 'stale', 'deny', 'stale'],
    ramping: ['ok', 'ok', 'deny', 'deny', 'deny', 'stale'],
    observing: ['ok', 'ok', 'deny', 'deny', 'deny', 'stale'],
    released: ['stale', 'stale', 'stale', 'stale', 'deny', 'stale'],
    rejected: ['stale', 'stale', 'stale', 'stale', 'deny', 'stale'],
    cancelled: ['stale', 'stale', 'stale', 'stale', 'deny', 'stale'],
    failed: ['stale', 'stale', 'stale', 'stale', 'deny', 'stale'],
    rolling_back: ['stale', 'stale', 'stale', 'stale', 'deny', 'stale'],
    rolled_back: ['stale', 'stale', 'stale', 'stale', 'deny', 'stale'],
  },
  // Nothing is paused here, so a Resume that may act finds nothing to resume.
  resume: {
    awaiting_approval: ['stale', 'stale', 'stale', 'stale', 'deny', 'stale'],
    running_steps: ['stale', 'stale', 'stale', 'stale', 'deny', 'stale'],
    switching: ['stale', 'stale', 'stale', 'stale', 'deny', 'stale'],
    ramping: ['none', 'none', 'deny', 'deny', 'deny', 'stale'],
    observing: ['none', 'none', 'deny', 'deny', 'deny', 'stale'],
    released: ['stale', 'stale', 'stale', 'stale', 'deny', 'stale'],
    rejected: ['stale', 'stale', 'stale', 'stale', 'deny', 'stale'],
    cancelled: ['stale', 'stale', 'stale', 'stale', 'deny', 'stale'],
    failed: ['stale', 'stale', 'stale', 'stale', 'deny', 'stale'],
    rolling_back: ['stale', 'stale', 'stale', 'stale', 'deny', 'stale'],
    rolled_back: ['stale', 'stale', 'stale', 'stale', 'deny', 'stale'],
  },
  // Already rolling back (and not failed): a second Rollback or Abort adds nothing.
  rollback: {
    awaiting_approval: ['ok', 'ok', 'ok', 'deny', 'deny', 'stale'],
    running_steps: ['ok', 'ok', 'ok', 'deny', 'deny', 'stale'],
    switching: ['ok', 'ok', 'ok', 'deny', 'deny', 'stale'],
    ramping: ['ok', 'ok', 'ok', 'deny', 'deny', 'stale'],
    observing: ['ok', 'ok', 'ok', 'deny', 'deny', 'stale'],
    released: ['ok', 'ok', 'ok', 'deny', 'deny', 'stale'],
    rejected: ['none', 'none', 'none', 'deny', 'deny', 'stale'],
    cancelled: ['none', 'none', 'none', 'deny', 'deny', 'stale'],
    failed: ['none', 'none', 'none', 'deny', 'deny', 'stale'],
    rolling_back: ['stale', 'stale', 'stale', 'stale', 'deny', 'stale'],
    rolled_back: ['none', 'none', 'none', 'deny', 'deny', 'stale'],
  },
  abort: {
    awaiting_approval: ['ok', 'ok', 'ok', 'deny', 'deny', 'stale'],
    running_steps: ['ok', 'ok', 'ok', 'deny', 'deny', 'stale'],
    switching: ['ok', 'ok', 'ok', 'deny', 'deny', 'stale'],
    ramping: ['ok', 'ok', 'ok', 'deny', 'deny', 'stale'],
    observing: ['ok', 'ok', 'ok', 'deny', 'deny', 'stale'],
    released: ['ok', 'ok', 'ok', 'deny', 'deny', 'stale'],
    rejected: ['none', 'none', 'none', 'deny', 'deny', 'stale'],
    cancelled: ['none', 'none', 'none', 'deny', 'deny', 'stale'],
    failed: ['none', 'none', 'none', 'deny', 'deny', 'stale'],
    rolling_back: ['stale', 'stale', 'stale', 'stale', 'deny', 'stale'],
    rolled_back: ['none', 'none', 'none', 'deny', 'deny', 'stale'],
  },
  // Only a released release carries a rollback request here (asked by U0DEV2); only lead approves.
  approve_rollback: {
    awaiting_approval: ['none', 'none', 'none', 'deny', 'deny', 'stale'],
    running_steps: ['none', 'none', 'none', 'deny', 'deny', 'stale'],
    switching: ['none', 'none', 'none', 'deny', 'deny', 'stale'],
    ramping: ['none', 'none', 'none', 'deny', 'deny', 'stale'],
    observing: ['none', 'none', 'none', 'deny', 'deny', 'stale'],
    released: ['deny', 'ok', 'deny', 'deny', 'deny', 'stale'],
    rejected: ['none', 'none', 'none', 'deny', 'deny', 'stale'],
    cancelled: ['none', 'none', 'none', 'deny', 'deny', 'stale'],
    failed: ['none', 'none', 'none', 'deny', 'deny', 'stale'],
    rolling_back: ['none', 'none', 'none', 'deny', 'deny', 'stale'],
    rolled_back: ['none', 'none', 'none', 'deny', 'deny', 'stale'],
  },
  // An irreversible step's own approval: its role (lead), never the requester, only while it
  // waits (the operator may run /release but is not in lead; the outsider is not an operator).
  approve_step: {
    awaiting_approval: ['stale', 'stale', 'stale', 'stale', 'deny', 'stale'],
    running_steps: ['deny', 'ok', 'deny', 'deny', 'deny', 'stale'],
    switching: ['stale', 'stale', 'stale', 'stale', 'deny', 'stale'],
    ramping: ['stale', 'stale', 'stale', 'stale', 'deny', 'stale'],
    observing: ['stale', 'stale', 'stale', 'stale', 'deny', 'stale'],
    released: ['stale', 'stale', 'stale', 'stale', 'deny', 'stale'],
    rejected: ['stale', 'stale', 'stale', 'stale', 'deny', 'stale'],
    cancelled: ['stale', 'stale', 'stale', 'stale', 'deny', 'stale'],
    failed: ['stale', 'stale', 'stale', 'stale', 'deny', 'stale'],
    rolling_back: ['stale', 'stale', 'stale', 'stale', 'deny', 'stale'],
    rolled_back: ['stale', 'stale', 'stale', 'stale', 'deny', 'stale'],
  },
};

const CODE: Record<string, Outcome> = {
  stale: 'stale',
  not_allowed: 'deny',
  not_available: 'none',
};

const cases = (Object.keys(EXPECTED) as ReleaseButton[]).flatMap((button) =>
  STATES.flatMap((state) =>
    RELATIONS.map((relation, i) => [button, state, relation, EXPECTED[button][state][i]] as const),
  ),
);

describe('every button × release state × who clicks, from where', () => {
  it.each(cases)('%s on a %s release by the %s: %s', async (button, state, relation, expected) => {
    const { w, current, old } = world(state);
    const before = JSON.stringify([...w.releases.values(), ...w.services.values()]);
    const { id, click } = clickFor(button, relation, current, old);
    let outcome: Outcome;
    try {
      await dispatchAction(w.deps, button, id, click);
      outcome = 'ok';
    } catch (error) {
      if (!(error instanceof ReleaseError)) throw error;
      outcome = CODE[error.code] ?? (error.code as Outcome);
    }
    expect(outcome).toBe(expected);
    const after = JSON.stringify([...w.releases.values(), ...w.services.values()]);
    // A refused click changes nothing at all; an accepted one changes something.
    if (outcome === 'ok') expect(after).not.toBe(before);
    else {
      expect(after).toBe(before);
      expect(w.jobs).toEqual([]);
    }
  });
});
