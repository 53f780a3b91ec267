import { calendarVerdict, formatLocal } from '../domain/calendar.ts';
import type { Release } from '../domain/release.ts';
import type { Uses } from './app-deps.ts';
import { ReleaseError } from './release-error.ts';

export type CalendarCheck = { open: true } | { open: false; description: string };

/** The calendar verdict now, phrased for people (`frozen until Tue 1 Dec 01:00 CET (Black Friday)`). */
export function checkCalendar(deps: Uses<'clock' | 'config'>): CalendarCheck {
  const { timezone, freeze, blockedDays, releaseHours } = deps.config;
  const verdict = calendarVerdict(
    { timezone, freeze, blockedDays, ...(releaseHours ? { releaseHours } : {}) },
    deps.clock.now(),
  );
  if (verdict.open) return verdict;
  const until = formatLocal(verdict.until, timezone);
  const description =
    verdict.kind === 'freeze'
      ? `frozen until ${until} (${verdict.reason})`
      : verdict.kind === 'blocked_day'
        ? `closed for releases until ${until} (${verdict.reason})`
        : `outside release hours until ${until} (${verdict.reason})`;
  return { open: false, description };
}

/** The refusal for anything but a hotfix while the calendar is closed. */
export function closedError(
  deps: Uses<'config'>,
  service: string,
  description: string,
  command: 'bump' | 'release',
): ReleaseError {
  const role = deps.config.freezeException;
  const hint =
    role === undefined
      ? 'Wait until then; no freezeException role is configured to let a hotfix through.'
      : command === 'bump'
        ? `A hotfix can pass with an approval from ${role}: /bump ${service} hotfix`
        : `A hotfix can pass with an approval from ${role} and a justification: /release ${service} --justify <why>`;
  return new ReleaseError('frozen', `${service} is ${description}.`, hint);
}

/**
 * The calendar at the moment of acting on a release (an approval, the switch, a canary advance):
 * why it may not move traffic now, or undefined. A release that came through the freeze
 * exception (a justified hotfix with its extra approval) passes.
 */
export function closedFor(deps: Uses<'clock' | 'config'>, release: Release): string | undefined {
  if (release.freezeException !== undefined) return undefined;
  const calendar = checkCalendar(deps);
  return calendar.open ? undefined : `${release.service} is ${calendar.description}`;
}
