import { itemList, openRequired } from './checklist.ts';
import { dataLayerNote } from './pre-switch-steps.ts';
import { missingRoles } from './release.ts';
import { type EventOf, TransitionRefused } from './release-events.ts';
import { refuse, type Step, type Transitioned } from './transition-step.ts';

/** Before any traffic moves: approvals given, refused, expired or voided. */

export function approve(step: Step, event: EventOf<'approve'>): Transitioned {
  const { release, at, next } = step;
  if (release.state !== 'awaiting_approval') refuse(release, event);
  if (event.user === release.requester) {
    throw new TransitionRefused(
      'not_allowed',
      `You requested this release; it needs approval from ${missingRoles(release).join(' and ')}, by someone else.`,
    );
  }
  if (release.approvals.some((a) => a.user === event.user)) {
    throw new TransitionRefused(
      'already_approved',
      'You have already approved this release; each role needs a different person.',
    );
  }
  const missing = missingRoles(release);
  const role = missing.find((r) => event.roles.includes(r));
  if (role === undefined) {
    throw new TransitionRefused(
      'not_allowed',
      `This release needs approval from ${missing.join(' and ')}, and you are not in ${missing.length > 1 ? 'any of those roles' : 'that role'}.`,
    );
  }
  const open = openRequired(release);
  if (open.length > 0) {
    throw new TransitionRefused(
      'checklist_open',
      `Approve counts only once every required pre-release item is ticked; still open: ${itemList(open)}.`,
    );
  }
  const approvals = [...release.approvals, { role, user: event.user, at }];
  const approved = missingRoles({ ...release, approvals }).length === 0;
  const canary =
    approved && release.canary
      ? { canary: { ...release.canary, stepIndex: Math.max(0, release.canary.stepIndex) } }
      : {};
  const updated = next(
    { approvals, ...canary, ...(approved ? { state: 'switching' as const } : {}) },
    event.user,
    `approved as ${role}`,
  );
  return { release: updated, effects: approved ? [{ type: 'switch_traffic' }] : [] };
}

export function reject({ release, next }: Step, event: EventOf<'reject'>): Transitioned {
  if (release.state !== 'awaiting_approval') refuse(release, event);
  return {
    release: next(
      {
        state: 'rejected',
        decidedBy: event.user,
        ...(event.reason ? { rejectReason: event.reason } : {}),
      },
      event.user,
      `${event.reason ? `rejected: ${event.reason}` : 'rejected'}${dataLayerNote(release)}`,
    ),
    effects: [{ type: 'free_service' }],
  };
}

export function expire({ release, next }: Step, event: EventOf<'expire'>): Transitioned {
  if (release.state !== 'awaiting_approval') refuse(release, event);
  return {
    release: next(
      { state: 'cancelled', failure: `${event.reason}${dataLayerNote(release)}` },
      'greenlight',
      `${event.reason}${dataLayerNote(release)}`,
    ),
    effects: [{ type: 'free_service' }],
  };
}

export function expireApprovals(
  { release, next }: Step,
  event: EventOf<'expire_approvals'>,
): Transitioned {
  if (release.state !== 'awaiting_approval') refuse(release, event);
  const kept = release.approvals.filter((a) => a.at >= event.olderThan);
  const expired = release.approvals.filter((a) => a.at < event.olderThan);
  if (expired.length === 0) return { release, effects: [] };
  return {
    release: next(
      { approvals: kept },
      'greenlight',
      `approval${expired.length > 1 ? 's' : ''} expired: ${expired.map((a) => `${a.role} by <@${a.user}>`).join(', ')}`,
    ),
    effects: [],
  };
}

export function voidApprovals(
  { release, next }: Step,
  event: EventOf<'void_approvals'>,
): Transitioned {
  // Approvals were given for what STANDBY was; if it changed, they no longer hold. Once a
  // canary has taken traffic the release is past approving: a failed switch ends it instead.
  const untouched = release.canary === undefined || release.canary.stepIndex <= 0;
  if (release.state !== 'awaiting_approval' && !(release.state === 'switching' && untouched))
    refuse(release, event);
  return {
    release: next(
      {
        approvals: [],
        state: 'awaiting_approval',
        ...(release.canary ? { canary: { ...release.canary, stepIndex: -1 } } : {}),
      },
      'greenlight',
      `approvals voided: ${event.reason}`,
    ),
    effects: release.state === 'switching' ? [{ type: 'drive_traffic' }] : [],
  };
}
