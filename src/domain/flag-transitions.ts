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
  const why = event.reason ? `: ${event.reason}` : '';
  return {
    release: next(
      {
        flags: withFlag(release.flags, {
          name: event.name,
          percent: event.percent,
          by: event.user,
          at,
        }),
      },
      event.user,
      `flag ${event.name} ${describeFlagState(event.percent)}${why}`,
    ),
    effects: [],
  };
}
