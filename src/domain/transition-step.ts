import { ENDED_STATES, type Release, type ReleaseState } from './release.ts';
import { type ReleaseEffect, type ReleaseEvent, TransitionRefused } from './release-events.ts';
import { ringEntered } from './rings.ts';

/** What a transition returns: the next release and what the runner must do about it. */
export interface Transitioned {
  release: Release;
  effects: ReleaseEffect[];
}

/** One event being applied to one release at one instant, with the ways to record it. */
export interface Step {
  readonly release: Release;
  readonly event: ReleaseEvent;
  /** The instant of the transition, as ISO text. */
  readonly at: string;
  /** A change with a timeline line: who did what. */
  readonly next: (changes: Partial<Release>, who: string, what: string) => Release;
  /** A change that is not worth a timeline line (routine readings). */
  readonly quietly: (changes: Partial<Release>) => Release;
}

/**
 * Every accepted event bumps the revision (the store's compare-and-set uses it); `next` also
 * appends to the timeline.
 */
export function stepFor(release: Release, event: ReleaseEvent, now: Date): Step {
  const at = now.toISOString();
  return {
    release,
    event,
    at,
    next: (changes, who, what) => ({
      ...release,
      ...changes,
      ...(changes.state !== undefined && changes.state !== release.state ? { stateSince: at } : {}),
      timeline: [...release.timeline, { at, who, what }],
      updatedAt: at,
      revision: release.revision + 1,
    }),
    quietly: (changes) => ({
      ...release,
      ...changes,
      updatedAt: at,
      revision: release.revision + 1,
    }),
  };
}

function describeState(state: ReleaseState): string {
  switch (state) {
    case 'awaiting_approval':
      return 'is waiting for approval';
    case 'running_steps':
      return 'is running its steps before the switch';
    case 'switching':
      return 'is switching traffic';
    case 'ramping':
      return 'is ramping up';
    case 'observing':
      return 'is in its stability window';
    case 'released':
      return 'was released';
    case 'rejected':
      return 'was rejected';
    case 'cancelled':
      return 'was cancelled';
    case 'failed':
      return 'failed';
    case 'rolling_back':
      return 'is rolling back';
    case 'rolled_back':
      return 'was rolled back';
  }
}

export function refuse(release: Release, event: ReleaseEvent): never {
  const code = ENDED_STATES.includes(release.state) ? 'release_ended' : 'illegal_transition';
  throw new TransitionRefused(
    code,
    `${release.service} ${release.version} ${describeState(release.state)}; it cannot take "${event.type}" now.`,
  );
}

/** Traffic is fully on the new slot: observe for the stability window, or done at once. */
export function trafficMoved(
  { release, at, next }: Step,
  observeUntil: string | undefined,
  what: string,
  changes: Partial<Release> = {},
): Transitioned {
  const production: ReleaseEffect = { type: 'production', slot: release.toSlot };
  return observeUntil !== undefined
    ? {
        release: next(
          { ...changes, state: 'observing' as const, releasedAt: at, observeUntil },
          'greenlight',
          what,
        ),
        effects: [production, { type: 'report_released' }, { type: 'start_analysis' }],
      }
    : {
        release: next(
          { ...changes, state: 'released' as const, releasedAt: at },
          'greenlight',
          what,
        ),
        effects: [production, { type: 'free_service' }, { type: 'report_released' }],
      };
}

/**
 * The canary moves on to its next step: a weight the reconciler sets, or the full switch. A step
 * left without evidence (`unproven`) is recorded so, and never shown as passed.
 */
export function nextStep(
  { release, event, at, next }: Step,
  who: string,
  what: string,
  options: { unproven?: boolean } = {},
): Transitioned {
  const canary = release.canary;
  if (canary === undefined) refuse(release, event);
  const to = canary.stepIndex + 1;
  const weight = canary.steps[to] ?? 100;
  const moved = {
    ...canary,
    stepIndex: to,
    stepStartedAt: at,
    awaitingPromotion: false,
    withoutEvidence: undefined,
    holdPassed: undefined,
    ...(options.unproven ? { unproven: [...(canary.unproven ?? []), canary.stepIndex] } : {}),
  };
  const entered = ringEntered(release, to);
  if (weight >= 100) {
    return {
      release: next(
        { state: 'switching', canary: moved, paused: undefined },
        who,
        `${what} to 100 %: ${release.toSlot} takes over`,
      ),
      effects: [{ type: 'switch_traffic' }],
    };
  }
  return {
    release: next(
      { canary: moved, paused: undefined },
      who,
      entered !== undefined
        ? `${what}: ${entered}`
        : `${what} to ${weight} %: canary at ${weight} % (${release.toSlot} ${weight} %, ${release.fromSlot} ${100 - weight} %)`,
    ),
    effects: [{ type: 'drive_traffic' }],
  };
}
