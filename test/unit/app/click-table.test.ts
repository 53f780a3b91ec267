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

/** The buttons of an irreversible step that was cut off while it ran. */
const WORD: readonly ReleaseButton[] = ['step_completed', 'step_not_completed'];

function world(state: ReleaseState, button: ReleaseButton) {
  const w = memoryWorld(CONFIG, NOW);
  const drawn = release('rel-now', state);
  // For the word buttons, a running_steps release's migration was approved, started and cut off.
  const current: Release =
    WORD.includes(button) && state === 'running_steps'
      ? {
          ...drawn,
          steps: (drawn.steps ?? []).map((s) => ({
            ...s,
            approvedBy: 'U0LEAD',
            startedAt: AT,
            interruptedAt: AT,
          })),
        }
      : drawn;
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
    parseFenceValue(
      button === 'approve_step' || WORD.includes(button) ? stepFenceValue(r) : fenceValue(r),
    ).stage;
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

// Outcomes written out by hand from the rules in issue 11, columns in RELATIONS order:
// requester, approver, operator, outsider, other channel, stale.
// ok: acted. stale: refused as out of date. deny: not allowed. none: nothing to act on.
type Outcome = 'ok' | 'stale' | 'deny' | 'none';
type Row = readonly Outcome[];
/** The button is not on the message as last drawn: every click in the channel is stale. */
const STALE: Row = ['stale', 'stale', 'stale', 'stale', 'deny', 'stale'];
/** Requester, approver and operator may act, and it acts. */
const ACTS: Row = ['ok', 'ok', 'ok', 'deny', 'deny', 'stale'];
/** Requester, approver and operator may act, but there is nothing to act on. */
const NONE: Row = ['none', 'none', 'none', 'deny', 'deny', 'stale'];
/** Only the approver (lead, not the requester) may act. */
const LEAD_ONLY: Row = ['deny', 'ok', 'deny', 'deny', 'deny', 'stale'];

/** A button's row for every state: `rows` where a state differs, `rest` for all the others. */
function byState(rest: Row, rows: Partial<Record<ReleaseState, Row>>): Record<ReleaseState, Row> {
  return Object.fromEntries(STATES.map((state) => [state, rows[state] ?? rest])) as Record<
    ReleaseState,
    Row
  >;
}

// Cancelled, rejected, failed and rolled back releases have nothing left to roll back.
const ENDED = { rejected: NONE, cancelled: NONE, failed: NONE, rolled_back: NONE };

const EXPECTED: Record<ReleaseButton, Record<ReleaseState, Row>> = {
  approve: byState(STALE, { awaiting_approval: LEAD_ONLY }),
  reject: byState(STALE, { awaiting_approval: ACTS }),
  promote: byState(STALE, { ramping: LEAD_ONLY }),
  pause: byState(STALE, {
    ramping: ['ok', 'ok', 'deny', 'deny', 'deny', 'stale'],
    observing: ['ok', 'ok', 'deny', 'deny', 'deny', 'stale'],
  }),
  // Nothing is paused here, so a Resume that may act finds nothing to resume.
  resume: byState(STALE, {
    ramping: ['none', 'none', 'deny', 'deny', 'deny', 'stale'],
    observing: ['none', 'none', 'deny', 'deny', 'deny', 'stale'],
  }),
  // Already rolling back (and not failed): a second Rollback or Abort adds nothing.
  rollback: byState(ACTS, { ...ENDED, rolling_back: STALE }),
  abort: byState(ACTS, { ...ENDED, rolling_back: STALE }),
  // Only a released release carries a rollback request here (asked by U0DEV2); only lead approves.
  approve_rollback: byState(NONE, { released: LEAD_ONLY }),
  // An irreversible step's own approval: its role (lead), never the requester, only while it
  // waits (the operator may run /release but is not in lead; the outsider is not an operator).
  approve_step: byState(STALE, { running_steps: LEAD_ONLY }),
  // The word on an irreversible step cut off while it ran: its role (lead), never the requester,
  // only while it waits for that word (here only a running_steps release's step does).
  step_completed: byState(STALE, { running_steps: LEAD_ONLY }),
  step_not_completed: byState(STALE, { running_steps: LEAD_ONLY }),
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
    const { w, current, old } = world(state, button);
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
