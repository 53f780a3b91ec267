import { currentStepIndex } from './pre-switch-steps.ts';
import { ENDED_STATES, type Release } from './release.ts';

/** A notice for stakeholder channels. */
export type NoticeKind = 'started' | 'released' | 'rolled_back' | 'failed';

/** An event sent to comms webhooks. */
export type WebhookEventName = 'started' | 'released' | 'rolled_back' | 'failed';

/**
 * What people outside the release channel should know about a release in its current state,
 * derived from the state alone (level-triggered): every notice, webhook and reminder here is
 * idempotent by release and kind, so a plan acted on twice, or late, sends each thing once.
 */
export interface CommsPlan {
  /** `hold`: a silence must cover now + lease; `cut`: end it after the tail; `none`: no silence. */
  readonly lease: 'hold' | 'cut' | 'none';
  readonly notices: readonly NoticeKind[];
  readonly webhooks: readonly WebhookEventName[];
  /** After a rollback: the incident-report reminder is due. */
  readonly incidentReminder: boolean;
}

/**
 * Did traffic ever start to move? Only then did stakeholders hear of the release. A release
 * cancelled or rejected ended before the switch; pre-switch steps (migrations) run before any
 * traffic moves, so a release running them, or failed in one, has not started either. A `failed`
 * release whose steps all finished (or that had none) failed its switch, so it moved.
 */
export function wentLive(release: Release): boolean {
  if (['awaiting_approval', 'running_steps', 'rejected', 'cancelled'].includes(release.state))
    return false;
  return release.state !== 'failed' || currentStepIndex(release) === undefined;
}

export function commsPlan(release: Release): CommsPlan {
  if (!wentLive(release))
    return { lease: 'none', notices: [], webhooks: [], incidentReminder: false };
  const ended = ENDED_STATES.includes(release.state);
  const notices: NoticeKind[] = ['started'];
  const webhooks: WebhookEventName[] = ['started'];
  if (release.state === 'released') {
    notices.push('released');
    webhooks.push('released');
  } else if (release.state === 'rolled_back') {
    notices.push('rolled_back');
    webhooks.push('rolled_back');
  } else if (ended) {
    notices.push('failed');
    webhooks.push('failed');
  }
  return {
    lease: ended ? 'cut' : 'hold',
    notices,
    webhooks,
    incidentReminder: release.state === 'rolled_back',
  };
}

/** When the incident report and retro are due after a rollback: `dueHours` from it. */
export function incidentDue(release: Release, dueHours: number): Date | undefined {
  const at = release.rollback?.at;
  return at === undefined ? undefined : new Date(Date.parse(at) + dueHours * 3_600_000);
}
