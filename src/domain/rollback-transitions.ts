import { endedByRollback } from './checklist.ts';
import { dataLayerNote } from './pre-switch-steps.ts';
import type { EventOf } from './release-events.ts';
import { refuse, type Step, type Transitioned } from './transition-step.ts';

/** Traffic going back: asked for, started (or retried), done, or failed. */

export function rollbackRequested(
  { release, at, next }: Step,
  event: EventOf<'rollback_requested'>,
): Transitioned {
  if (release.state !== 'released') refuse(release, event);
  return {
    release: next(
      { pendingRollback: { by: event.user, reason: event.reason, at } },
      event.user,
      `asked to roll back outside the rollback window: ${event.reason}`,
    ),
    effects: [],
  };
}

export function rollback({ release, at, next }: Step, event: EventOf<'rollback'>): Transitioned {
  // A deadline computed from an older revision (someone acted meanwhile) no longer holds.
  if (event.atRevision !== undefined && event.atRevision !== release.revision)
    return { release, effects: [] };
  const rollback = {
    by: event.user,
    reason: event.reason,
    at,
    attempt: release.revision + 1,
    ...(event.approvedBy ? { approvedBy: event.approvedBy } : {}),
  };
  if (release.state === 'awaiting_approval' || release.state === 'running_steps') {
    return {
      release: next(
        { state: 'cancelled', rollback },
        event.user,
        `cancelled before any traffic moved: ${event.reason}${dataLayerNote(release)}`,
      ),
      effects: [{ type: 'free_service' }],
    };
  }
  // rolling_back is accepted again so a rollback that failed half-way can be given once more.
  if (!['switching', 'ramping', 'observing', 'released', 'rolling_back'].includes(release.state))
    refuse(release, event);
  // Post-release items stop being tracked with the traffic, and the thread is told so.
  const ended = endedByRollback(release, at);
  return {
    // Each attempt gets its own deadline, a retry included.
    release: next(
      {
        state: 'rolling_back',
        stateSince: at,
        rollback,
        pendingRollback: undefined,
        failure: undefined,
        ...(ended ? { checklist: ended.checklist } : {}),
      },
      event.approvedBy ?? event.user,
      `${
        event.approvedBy
          ? `approved the rollback asked by <@${event.user}>: ${event.reason}`
          : `rollback requested: ${event.reason}`
      }${ended ? `\n${ended.words}` : ''}`,
    ),
    effects: [{ type: 'rollback_traffic' }],
  };
}

export function rolledBack({ release, next }: Step, event: EventOf<'rolled_back'>): Transitioned {
  if (release.state !== 'rolling_back' || release.rollback === undefined) refuse(release, event);
  return {
    release: next(
      {
        state: 'rolled_back',
        // Flags the rollback turned off are off now: a later rollback has nothing to redo.
        ...(event.flags?.some((o) => o.ok)
          ? {
              flags: (release.flags ?? []).map((f) =>
                event.flags?.some((o) => o.ok && o.name === f.name) ? { ...f, percent: 0 } : f,
              ),
            }
          : {}),
        rollback: {
          ...release.rollback,
          path: event.path,
          ...(event.flags?.length ? { flags: event.flags } : {}),
        },
      },
      'greenlight',
      `traffic back on ${release.fromSlot} (${release.fromVersion})`,
    ),
    effects: [
      { type: 'production', slot: release.fromSlot },
      { type: 'free_service' },
      { type: 'report_rolled_back' },
    ],
  };
}

export function rollbackFailed(
  { release, next }: Step,
  event: EventOf<'rollback_failed'>,
): Transitioned {
  if (release.state !== 'rolling_back') refuse(release, event);
  // Stays rolling_back: the service keeps its lock so nobody releases over a half-done rollback,
  // and /rollback can be given again.
  return {
    release: next(
      {
        failure: event.reason,
        ...(event.flags?.length && release.rollback
          ? { rollback: { ...release.rollback, flags: event.flags } }
          : {}),
      },
      'greenlight',
      `rollback failed: ${event.reason}`,
    ),
    effects: [],
  };
}
