import {
  awaitsApproval,
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
  event: EventOf<'approve_step' | 'step_started' | 'step_finished' | 'step_failed'>,
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

export function approveStep(step: Step, event: EventOf<'approve_step'>): Transitioned {
  const { release, at, next } = step;
  const { index, step: s } = current(release, event);
  if (!awaitsApproval(s))
    throw new TransitionRefused('already_approved', `Step ${s.name} is already approved.`);
  if (event.user === release.requester)
    throw new TransitionRefused(
      'not_allowed',
      `You requested this release; someone else in ${s.approverRole} must approve ${s.name}.`,
    );
  if (s.approverRole === undefined || !event.roles.includes(s.approverRole))
    throw new TransitionRefused(
      'not_allowed',
      `Step ${s.name} cannot be undone and needs approval from ${s.approverRole ?? 'its approver role'}; you are not in that role.`,
    );
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
  if (awaitsApproval(s)) refuse(release, event);
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
  const { release, at, next } = step;
  const { index, step: s } = current(release, event);
  if (s.startedAt === undefined) refuse(release, event);
  const steps = withStep(release, index, { finishedAt: at });
  const following = steps[index + 1];
  if (following === undefined) {
    return {
      release: next(
        { steps, state: 'switching' },
        'greenlight',
        `step ${s.name} done; every step is done, switching traffic`,
      ),
      effects: [{ type: 'switch_traffic' }],
    };
  }
  const ready = withStep({ ...release, steps }, index + 1, { readyAt: at });
  return {
    release: next(
      { steps: ready },
      'greenlight',
      `step ${s.name} done; next: ${following.name}${awaitsApproval(following) ? ', which needs its own approval' : ''}`,
    ),
    effects: awaitsApproval(following) ? [] : [{ type: 'run_step' }],
  };
}

export function stepFailed(step: Step, event: EventOf<'step_failed'>): Transitioned {
  const { release, next } = step;
  const { step: s } = current(release, event);
  const touched = dataTouched(release);
  const failure = [
    `step ${s.name} failed: ${event.reason}.`,
    `Traffic never moved: PRODUCTION stays on ${release.fromSlot} (${release.fromVersion}).`,
    touched.length > 0
      ? `The data layer may have changed and is not undone by Greenlight: ${compensationText(touched)}.`
      : '',
    `To retry, fix the cause, then /release ${release.service} again (approvals are asked again).`,
  ]
    .filter(Boolean)
    .join(' ');
  return {
    release: next({ state: 'failed', failure }, 'greenlight', failure),
    effects: [{ type: 'free_service' }, { type: 'drive_traffic' }],
  };
}
