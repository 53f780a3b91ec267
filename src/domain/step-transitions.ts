import {
  awaitsApproval,
  awaitsWord,
  compensationText,
  currentStepIndex,
  dataTouched,
  type PreSwitchStep,
} from './pre-switch-steps.ts';
import type { Release } from './release.ts';
import { type EventOf, TransitionRefused } from './release-events.ts';
import { refuse, type Step, type Transitioned } from './transition-step.ts';

/** Pre-switch steps (migrations): approved, started, finished or failed, before traffic moves. */

function withStep(release: Release, index: number, changes: Partial<PreSwitchStep>) {
  return (release.steps ?? []).map((s, i) => (i === index ? { ...s, ...changes } : s));
}

/** The step an event names must be the current one, or the event is out of date. */
function current(
  release: Release,
  event: EventOf<
    | 'approve_step'
    | 'step_started'
    | 'step_finished'
    | 'step_failed'
    | 'step_interrupted'
    | 'resolve_step'
  >,
) {
  if (release.state !== 'running_steps') refuse(release, event);
  const index = currentStepIndex(release);
  const step = index === undefined ? undefined : release.steps?.[index];
  if (index !== event.index || step === undefined)
    throw new TransitionRefused(
      'illegal_transition',
      `${release.service} ${release.version} is past that step already.`,
    );
  return { index, step };
}

/**
 * After the last approval: a release with steps runs them first. Rewrites what `approve`
 * decided (switching, with the switch step) into running the first step, or waiting for its
 * approval when it cannot be undone.
 */
export function intoSteps(result: Transitioned, at: string): Transitioned {
  const release = result.release;
  const index = currentStepIndex(release);
  if (release.state !== 'switching' || index === undefined) return result;
  const steps = withStep(release, index, { readyAt: at });
  const first = steps[index] as PreSwitchStep;
  return {
    release: { ...release, state: 'running_steps', steps },
    effects: [
      ...result.effects.filter((e) => e.type !== 'switch_traffic'),
      ...(awaitsApproval(first) ? [] : [{ type: 'run_step' as const }]),
    ],
  };
}

/** An irreversible step's decisions are its approver role's, never the requester's. */
function mayDecide(
  release: Release,
  s: PreSwitchStep,
  event: EventOf<'approve_step' | 'resolve_step'>,
): void {
  const what =
    event.type === 'approve_step' ? `approve ${s.name}` : `say whether ${s.name} completed`;
  if (event.user === release.requester)
    throw new TransitionRefused(
      'not_allowed',
      `You requested this release; someone else in ${s.approverRole} must ${what}.`,
    );
  if (s.approverRole === undefined || !event.roles.includes(s.approverRole))
    throw new TransitionRefused(
      'not_allowed',
      event.type === 'approve_step'
        ? `Step ${s.name} cannot be undone and needs approval from ${s.approverRole ?? 'its approver role'}; you are not in that role.`
        : `Only ${s.approverRole ?? 'its approver role'} may say whether ${s.name} completed; you are not in that role.`,
    );
}

export function approveStep(step: Step, event: EventOf<'approve_step'>): Transitioned {
  const { release, at, next } = step;
  const { index, step: s } = current(release, event);
  if (!awaitsApproval(s))
    throw new TransitionRefused('already_approved', `Step ${s.name} is already approved.`);
  mayDecide(release, s, event);
  return {
    release: next(
      { steps: withStep(release, index, { approvedBy: event.user, readyAt: at }) },
      event.user,
      `approved step ${s.name} as ${s.approverRole} (it cannot be undone)`,
    ),
    effects: [{ type: 'run_step' }],
  };
}

export function stepStarted(step: Step, event: EventOf<'step_started'>): Transitioned {
  const { release, at, next } = step;
  const { index, step: s } = current(release, event);
  if (awaitsApproval(s) || awaitsWord(s)) refuse(release, event);
  // An irreversible step is started once: a second start would run it twice.
  if (!s.reversible && s.startedAt !== undefined)
    throw new TransitionRefused('illegal_transition', `Step ${s.name} was started already.`);
  return {
    release: next(
      { steps: withStep(release, index, { startedAt: at }) },
      'greenlight',
      `step ${s.name} started${s.reversible ? '' : ' (cannot be undone)'}`,
    ),
    effects: [],
  };
}

export function stepFinished(step: Step, event: EventOf<'step_finished'>): Transitioned {
  const { release } = step;
  const { index, step: s } = current(release, event);
  // Also while it waits for a person's word: no run starts once it was found cut off, so this
  // finish is from the run thought cut off (its lock lost while it ran), and Greenlight knows.
  if (s.startedAt === undefined) refuse(release, event);
  return afterStep(step, index, 'greenlight', `step ${s.name} done`);
}

/** The step at `index` is done: the next one becomes ready, or traffic switches. */
function afterStep(step: Step, index: number, who: string, done: string): Transitioned {
  const { release, at, next } = step;
  const steps = withStep(release, index, { finishedAt: at });
  const following = steps[index + 1];
  if (following === undefined) {
    return {
      release: next(
        { steps, state: 'switching' },
        who,
        `${done}; every step is done, switching traffic`,
      ),
      effects: [{ type: 'switch_traffic' }],
    };
  }
  const ready = withStep({ ...release, steps }, index + 1, { readyAt: at });
  return {
    release: next(
      { steps: ready },
      who,
      `${done}; next: ${following.name}${awaitsApproval(following) ? ', which needs its own approval' : ''}`,
    ),
    effects: awaitsApproval(following) ? [] : [{ type: 'run_step' }],
  };
}

export function stepFailed(step: Step, event: EventOf<'step_failed'>): Transitioned {
  const { step: s } = current(step.release, event);
  return failed(step, 'greenlight', `step ${s.name} failed: ${event.reason}.`);
}

function failed(step: Step, who: string, what: string): Transitioned {
  const { release, next } = step;
  const touched = dataTouched(release);
  const failure = [
    what,
    `Traffic never moved: PRODUCTION stays on ${release.fromSlot} (${release.fromVersion}).`,
    touched.length > 0
      ? `The data layer may have changed and is not undone by Greenlight: ${compensationText(touched)}.`
      : '',
    `To retry, fix the cause, then /release ${release.service} again (approvals are asked again).`,
  ]
    .filter(Boolean)
    .join(' ');
  return {
    release: next({ state: 'failed', failure }, who, failure),
    effects: [{ type: 'free_service' }, { type: 'drive_traffic' }],
  };
}

/**
 * An irreversible step found started and never finished: Greenlight cannot know whether it
 * completed and never runs it twice, so it waits (until its deadline) for its approver role to
 * say. Its deadline counts from now.
 */
export function stepInterrupted(step: Step, event: EventOf<'step_interrupted'>): Transitioned {
  const { release, at, next } = step;
  const { index, step: s } = current(release, event);
  if (s.reversible || s.startedAt === undefined || s.interruptedAt !== undefined)
    refuse(release, event);
  return {
    release: next(
      { steps: withStep(release, index, { interruptedAt: at, readyAt: at }) },
      'greenlight',
      `step ${s.name} was cut off while it ran (started ${s.startedAt.slice(0, 16).replace('T', ' ')} UTC; a crash or restart). It cannot be undone, so Greenlight does not run it again: someone in ${s.approverRole} must check whether it completed and say so on the release message`,
    ),
    effects: [],
  };
}

/** A person's word on an interrupted step: it completed (the release goes on), or not (it fails). */
export function resolveStep(step: Step, event: EventOf<'resolve_step'>): Transitioned {
  const { release } = step;
  const { index, step: s } = current(release, event);
  if (!awaitsWord(s))
    throw new TransitionRefused(
      'illegal_transition',
      `Step ${s.name} is not waiting for anyone's word.`,
    );
  mayDecide(release, s, event);
  if (event.completed)
    return afterStep(step, index, event.user, `checked that step ${s.name} completed`);
  return failed(
    step,
    event.user,
    `step ${s.name} was cut off while it ran, and <@${event.user}> checked that it did not complete.`,
  );
}
