import { describeFlagState, withFlag } from './flags.ts';
import type { EventOf } from './release-events.ts';
import { refuse, type Step, type Transitioned } from './transition-step.ts';

/** States in which a flag change counts as the release's own (a rollback turns it off again). */
const FLAG_STATES = ['switching', 'ramping', 'observing', 'released', 'rolling_back'];

/**
 * A flag changed while this release is live: recorded on the release so a rollback, or a
 * restart, knows which flags the release left on.
 */
export function flagSet({ release, at, next }: Step, event: EventOf<'flag_set'>): Transitioned {
  if (!FLAG_STATES.includes(release.state)) refuse(release, event);
  // A flag set by hand (a kill switch above all) ends its ramp: a later step must not undo it.
  const ramp = release.flagRamp?.name === event.name ? release.flagRamp : undefined;
  const notes = [
    event.reason,
    ramp && `the ramp stopped at ${ramp.steps[ramp.stepIndex] ?? 100} %`,
  ].filter(Boolean);
  return {
    release: next(
      {
        flags: withFlag(release.flags, {
          name: event.name,
          percent: event.percent,
          by: event.user,
          at,
        }),
        ...(ramp ? { flagRamp: undefined } : {}),
      },
      event.user,
      `flag ${event.name} ${describeFlagState(event.percent)}${notes.length ? `: ${notes.join('; ')}` : ''}`,
    ),
    effects: [],
  };
}

/**
 * A flag ramp starts in the stability window (after the switch, or after the last canary step):
 * its first step is on, and the window is extended so that every step gets its hold and its
 * analysis before the release is called done.
 */
export function flagRampStarted(
  { release, at, next }: Step,
  event: EventOf<'flag_ramp'>,
): Transitioned {
  if (release.state !== 'observing' || release.flagRamp !== undefined) refuse(release, event);
  const first = event.steps[0] ?? 100;
  const rampEnds = Date.parse(at) + (event.steps.length + 1) * event.holdMinutes * 60_000;
  const observeUntil =
    release.observeUntil === undefined || Date.parse(release.observeUntil) < rampEnds
      ? new Date(rampEnds).toISOString()
      : release.observeUntil;
  return {
    release: next(
      {
        flagRamp: { name: event.name, steps: event.steps, stepIndex: 0, stepStartedAt: at },
        flags: withFlag(release.flags, { name: event.name, percent: first, by: event.user, at }),
        observeUntil,
      },
      event.user,
      `started the ramp of flag ${event.name} (${event.steps.join(' → ')} %) at ${first} %`,
    ),
    effects: [],
  };
}

/** The ramp's hold passed with the analysis saying pass: the next step, or the ramp is done. */
export function flagRampStepped(
  { release, at, next }: Step,
  event: EventOf<'flag_ramp_step'>,
): Transitioned {
  const ramp = release.flagRamp;
  // Fenced to the step it was decided for: a second worker's tick, or a late one, does nothing.
  if (
    ramp === undefined ||
    ramp.stepStartedAt !== event.stepStartedAt ||
    release.state !== 'observing'
  )
    return { release, effects: [] };
  const index = ramp.stepIndex + 1;
  const percent = ramp.steps[index];
  if (percent === undefined)
    return {
      release: next(
        { flagRamp: undefined },
        'greenlight',
        `flag ${ramp.name} ramp complete at ${ramp.steps.at(-1) ?? 100} %`,
      ),
      effects: [],
    };
  return {
    release: next(
      {
        flagRamp: { ...ramp, stepIndex: index, stepStartedAt: at },
        flags: withFlag(release.flags, { name: ramp.name, percent, by: 'greenlight', at }),
      },
      'greenlight',
      `flag ${ramp.name} at ${percent} %: the analysis passed at ${ramp.steps[ramp.stepIndex]} %`,
    ),
    effects: [],
  };
}
