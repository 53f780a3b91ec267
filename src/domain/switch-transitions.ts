import { dataLayerNote } from './pre-switch-steps.ts';
import { type EventOf, TransitionRefused } from './release-events.ts';
import { ringEntered } from './rings.ts';
import { nextStep, refuse, type Step, type Transitioned, trafficMoved } from './transition-step.ts';

/** Traffic on the move: the switch, the canary's steps, and pausing or resuming them. */

export function switched(step: Step, event: EventOf<'switched'>): Transitioned {
  const { release, at, next } = step;
  if (release.state !== 'switching') refuse(release, event);
  const canary = release.canary;
  const weight = canary ? (canary.steps[canary.stepIndex] ?? 100) : 100;
  if (canary !== undefined && weight < 100) {
    return {
      release: next(
        {
          state: 'ramping',
          canary: { ...canary, stepStartedAt: at, awaitingPromotion: false },
          paused: undefined,
        },
        'greenlight',
        ringEntered(release, canary.stepIndex) ??
          `canary at ${weight} %: ${release.toSlot} ${weight} %, ${release.fromSlot} ${100 - weight} %`,
      ),
      effects: [{ type: 'start_analysis' }],
    };
  }
  const moved = trafficMoved(
    step,
    event.observeUntil,
    canary
      ? `${release.toSlot} takes 100 % of traffic`
      : `traffic switched ${release.fromSlot} → ${release.toSlot}`,
    canary ? { canary: { ...canary, stepStartedAt: at }, paused: undefined } : {},
  );
  // The analysis loop of a canary already runs; blue/green starts it with its window.
  return moved;
}

export function promote(step: Step, event: EventOf<'promote'>): Transitioned {
  const { release } = step;
  if (release.state !== 'ramping' || release.canary === undefined) refuse(release, event);
  // A Promote moves one step from the step its message showed, never from a later one.
  if (event.fromStep !== undefined && event.fromStep !== release.canary.stepIndex) {
    throw new TransitionRefused(
      'illegal_transition',
      `${release.service} ${release.version} is already past the step this Promote was for: it is at ${release.canary.steps[release.canary.stepIndex] ?? 100} %.`,
    );
  }
  // Without evidence (asked for as Promote anyway, or clicked before the analysis passed) the
  // Promote is recorded as such, with who and what was missing.
  // A hold that passed on evidence counts, whatever a later reading (a failed read) left as the
  // last verdict.
  // (A release stored before `holdPassed` was: a hold awaiting Promote, not in shadow mode.)
  const passed =
    release.canary.holdPassed ??
    (release.canary.awaitingPromotion === true && release.analysis?.shadow !== true);
  const missing =
    release.canary.withoutEvidence ??
    (passed || release.analysis?.lastVerdict === 'pass'
      ? undefined
      : release.analysis?.lastFigures?.join('; ') || 'no analysis verdict yet');
  if (missing === undefined) return nextStep(step, event.user, 'promoted');
  return nextStep(step, event.user, `promoted anyway, without evidence (${missing})`, {
    unproven: true,
  });
}

export function pause({ release, at, next }: Step, event: EventOf<'pause'>): Transitioned {
  if (release.state !== 'ramping' && release.state !== 'observing') refuse(release, event);
  if (release.paused !== undefined) return { release, effects: [] };
  return {
    release: next(
      { paused: { by: event.user, reason: event.reason, at, revision: release.revision + 1 } },
      event.user,
      `paused: ${event.reason}`,
    ),
    effects: [],
  };
}

export function resume({ release, at, next }: Step, event: EventOf<'resume'>): Transitioned {
  if (
    (release.state !== 'ramping' && release.state !== 'observing') ||
    release.paused === undefined
  )
    refuse(release, event);
  return {
    release: next(
      {
        paused: undefined,
        analysis: release.analysis
          ? { ...release.analysis, breaches: 0, failedReads: 0 }
          : undefined,
        // The hold starts again, and so does any wait for Promote (with its deadline).
        ...(release.canary
          ? {
              canary: {
                ...release.canary,
                stepStartedAt: at,
                awaitingPromotion: false,
                promptedAt: undefined,
                withoutEvidence: undefined,
                holdPassed: undefined,
              },
            }
          : {}),
      },
      event.user,
      'resumed',
    ),
    effects: [],
  };
}

export function switchFailed(
  { release, next }: Step,
  event: EventOf<'switch_failed'>,
): Transitioned {
  if (release.state !== 'switching') refuse(release, event);
  // After an irreversible step the failed switch leaves changed data behind: say whose it is.
  const failure = `${event.reason}${dataLayerNote(release)}`;
  return {
    release: next({ state: 'failed', failure }, 'greenlight', `switch failed: ${failure}`),
    // PRODUCTION never changed, so desired traffic is back on it: the reconciler restores it.
    effects: [{ type: 'free_service' }, { type: 'drive_traffic' }],
  };
}

export function switchHeld({ release, next }: Step, event: EventOf<'switch_held'>): Transitioned {
  // A canary's last step reached a closed calendar before traffic moved: it stays at the
  // step it had, like autoPromote holding, instead of losing the traffic it already carries.
  const canary = release.canary;
  if (release.state !== 'switching' || canary === undefined || canary.stepIndex <= 0)
    refuse(release, event);
  const held = canary.stepIndex - 1;
  return {
    release: next(
      {
        state: 'ramping',
        canary: {
          ...canary,
          stepIndex: held,
          awaitingPromotion: false,
          // The Promote that asked for the switch must not count again once the window opens;
          // nor does its lack of evidence: the step is left only by a Promote to come.
          heldRevision: release.revision + 1,
          unproven: canary.unproven?.filter((i) => i !== held),
          holdPassed: undefined,
        },
      },
      'greenlight',
      `held at ${canary.steps[held] ?? 0} %: ${event.reason}`,
    ),
    effects: [{ type: 'drive_traffic' }],
  };
}
