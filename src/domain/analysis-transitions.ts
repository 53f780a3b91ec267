import type { EventOf } from './release-events.ts';
import { nextStep, refuse, type Step, type Transitioned } from './transition-step.ts';

/** While traffic is on the new slot: readings, holds ending, and the stability window ending. */

export function analysed(step: Step, event: EventOf<'analysis'>): Transitioned {
  const { release, at, next, quietly } = step;
  if (release.state !== 'ramping' && release.state !== 'observing') refuse(release, event);
  const previous = release.analysis ?? { checks: 0, breaches: 0 };
  // Two ticks can overlap (a lock lapsed while its holder stalled): the later one judged the
  // same interval from the same samples, and would count its breach or failed read twice.
  if (previous.checks !== event.afterChecks) return { release, effects: [] };
  const verdict = event.verdict;
  const breaches = verdict.verdict === 'breach' ? previous.breaches + 1 : 0;
  const failedReads = verdict.verdict === 'no_data' ? (previous.failedReads ?? 0) + 1 : 0;
  const figures =
    verdict.verdict === 'inconclusive' || verdict.verdict === 'no_data'
      ? [verdict.figure]
      : [...(verdict.figures ?? [])];
  const analysis = {
    checks: previous.checks + 1,
    breaches,
    failedReads,
    lastVerdict: verdict.verdict,
    lastFigures: figures,
    canary: event.canary,
    ...(event.baseline ? { baseline: event.baseline } : {}),
    ...(event.samples ? { samples: event.samples } : {}),
    // A reading without data adds nothing, and must not erase what was gathered so far.
    ...((event.evidence ?? previous.evidence) !== undefined
      ? { evidence: event.evidence ?? previous.evidence }
      : {}),
    ...(event.shadow ? { shadow: true } : {}),
    at,
  };
  const rollsBack =
    verdict.verdict === 'fail' || (verdict.verdict === 'breach' && breaches >= event.breachLimit);
  if (event.shadow) {
    // Shadow mode acts on nothing; a verdict that would have acted is noted once per change.
    const would = rollsBack
      ? 'roll back'
      : verdict.verdict === 'no_data' && failedReads >= event.failedReadLimit
        ? 'pause'
        : undefined;
    if (would !== undefined && previous.lastVerdict !== verdict.verdict)
      return {
        release: next(
          { analysis },
          'greenlight',
          `shadow analysis would ${would}: ${figures.join(', ')}`,
        ),
        effects: [],
      };
    return { release: quietly({ analysis }), effects: [] };
  }
  if (rollsBack) {
    return {
      release: quietly({ analysis }),
      effects: [{ type: 'auto_rollback', reason: figures.join(', ') }],
    };
  }
  if (
    verdict.verdict === 'no_data' &&
    failedReads >= event.failedReadLimit &&
    release.paused === undefined
  ) {
    const reason = `no metrics for ${failedReads} readings in a row: ${verdict.figure}`;
    return {
      release: next(
        { analysis, paused: { by: 'greenlight', reason, at, revision: release.revision + 1 } },
        'greenlight',
        `paused: ${reason}`,
      ),
      effects: [],
    };
  }
  // Routine readings do not go in the timeline: the progress updates carry them.
  return { release: quietly({ analysis }), effects: [] };
}

export function sampled({ release, at, quietly }: Step, event: EventOf<'sampled'>): Transitioned {
  if (release.state !== 'ramping' && release.state !== 'observing') refuse(release, event);
  const previous = release.analysis ?? { checks: 0, breaches: 0 };
  return {
    release: quietly({ analysis: { ...previous, samples: event.samples, at } }),
    effects: [],
  };
}

export function holdPassed(step: Step, event: EventOf<'hold_passed'>): Transitioned {
  const { release, at, next } = step;
  if (release.state !== 'ramping' || release.canary === undefined) refuse(release, event);
  // Decided for a step the canary has left (a Promote landed meanwhile): nothing to do.
  if (release.canary.stepStartedAt !== event.stepStartedAt) return { release, effects: [] };
  // Evidence that arrives while Promote anyway is asked for turns it into a plain Promote.
  const late = release.canary.withoutEvidence !== undefined;
  if (release.paused !== undefined || (release.canary.awaitingPromotion && !late))
    return { release, effects: [] };
  const weight = release.canary.steps[release.canary.stepIndex] ?? 0;
  const ended =
    event.byTime !== undefined
      ? `hold time at ${weight} % ended (shadow analysis, verdict: ${event.byTime})`
      : `hold at ${weight} % passed`;
  // Ended by time (shadow mode), the step is left without evidence, as a Promote would be.
  if (event.autoPromote)
    return nextStep(step, 'greenlight', `${ended}: promoting`, {
      unproven: event.byTime !== undefined,
    });
  return {
    release: next(
      {
        canary: {
          ...release.canary,
          awaitingPromotion: true,
          promptedAt: late ? (release.canary.promptedAt ?? at) : at,
          withoutEvidence: undefined,
          holdPassed: event.byTime === undefined,
        },
      },
      'greenlight',
      `${ended}: an approver clicks Promote to continue`,
    ),
    effects: [],
  };
}

export function holdInconclusive(
  { release, at, next }: Step,
  event: EventOf<'hold_inconclusive'>,
): Transitioned {
  if (release.state !== 'ramping' || release.canary === undefined) refuse(release, event);
  if (
    release.paused !== undefined ||
    release.canary.awaitingPromotion ||
    release.canary.stepStartedAt !== event.stepStartedAt
  )
    return { release, effects: [] };
  const weight = release.canary.steps[release.canary.stepIndex] ?? 0;
  return {
    release: next(
      {
        canary: {
          ...release.canary,
          awaitingPromotion: true,
          promptedAt: at,
          withoutEvidence: event.missing,
        },
      },
      'greenlight',
      `hold at ${weight} % ended without evidence (${event.missing}): an approver clicks Promote anyway or Roll back`,
    ),
    effects: [],
  };
}

export function observed({ release, next }: Step, event: EventOf<'observed'>): Transitioned {
  if (release.state !== 'observing' || release.paused !== undefined) refuse(release, event);
  // The window is a ramp's deadline: one that ends mid-ramp leaves the flag where it is, said.
  const ramp = release.flagRamp;
  const stopped = ramp
    ? `; the ramp of flag ${ramp.name} stopped at ${ramp.steps[ramp.stepIndex] ?? 100} % (set it by hand: /flag ${release.service} ${ramp.name} <percent>)`
    : '';
  return {
    release: next(
      { state: 'released', ...(ramp ? { flagRamp: undefined } : {}) },
      'greenlight',
      (event.byTime !== undefined
        ? `released: the stability window ended (shadow analysis, verdict: ${event.byTime}), so /sync ${release.service} is possible now`
        : event.verdict === undefined
          ? `released: the stability window passed, so /sync ${release.service} is possible now`
          : `released: the stability window ended, ${event.verdict}; /sync ${release.service} is possible now`) +
        stopped,
    ),
    effects: [{ type: 'free_service' }],
  };
}
