/**
 * Release calendar: freezes, blocked weekdays and allowed hours, evaluated in the configured
 * time zone with the platform's own time-zone data (Intl), daylight-saving changes included.
 */
export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export interface Freeze {
  readonly from: string;
  readonly to: string;
  readonly reason: string;
}

export interface CalendarPolicy {
  readonly timezone: string;
  readonly freeze: readonly Freeze[];
  readonly blockedDays: readonly Weekday[];
  /** Local wall-clock hours when releases may happen, `HH:MM`; `to` is exclusive. */
  readonly releaseHours?: { readonly from: string; readonly to: string };
}

export type CalendarVerdict =
  | { readonly open: true }
  | {
      readonly open: false;
      readonly kind: 'freeze' | 'blocked_day' | 'outside_hours';
      readonly reason: string;
      readonly until: Date;
    };

interface LocalParts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  weekday: Weekday;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(timezone: string): Intl.DateTimeFormat {
  let f = formatters.get(timezone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      weekday: 'short',
    });
    formatters.set(timezone, f);
  }
  return f;
}

export function localParts(instant: Date, timezone: string): LocalParts {
  const parts = Object.fromEntries(
    formatter(timezone)
      .formatToParts(instant)
      .map((p) => [p.type, p.value]),
  );
  return {
    year: Number(parts.year),
    month: Number(parts.month),
    day: Number(parts.day),
    hour: Number(parts.hour),
    minute: Number(parts.minute),
    weekday: String(parts.weekday).toLowerCase().slice(0, 3) as Weekday,
  };
}

/** How far the zone's wall clock is ahead of UTC at `instant`, in ms. */
function offsetMs(instant: number, timezone: string): number {
  const whole = instant - (((instant % 60_000) + 60_000) % 60_000);
  const p = localParts(new Date(whole), timezone);
  return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute) - whole;
}

/** The instant of a local wall-clock time; a time skipped by a DST change moves forward. */
export function zonedInstant(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  timezone: string,
): Date {
  const wall = Date.UTC(year, month - 1, day, hour, minute);
  let instant = wall - offsetMs(wall, timezone);
  const corrected = offsetMs(instant, timezone);
  if (corrected !== wall - instant) instant = wall - corrected;
  return new Date(instant);
}

function minutesOf(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number);
  return (h ?? 0) * 60 + (m ?? 0);
}

/** Local midnight `days` days after the local date of `instant`. */
function localMidnight(instant: Date, days: number, timezone: string): Date {
  const p = localParts(instant, timezone);
  const date = new Date(Date.UTC(p.year, p.month - 1, p.day + days));
  return zonedInstant(
    date.getUTCFullYear(),
    date.getUTCMonth() + 1,
    date.getUTCDate(),
    0,
    0,
    timezone,
  );
}

/** The next instant at or after `from` that is on an allowed day and inside allowed hours. */
function nextOpening(from: Date, policy: CalendarPolicy): Date {
  let candidate = from;
  for (let i = 0; i < 14; i += 1) {
    const p = localParts(candidate, policy.timezone);
    if (policy.blockedDays.includes(p.weekday)) {
      candidate = localMidnight(candidate, 1, policy.timezone);
      continue;
    }
    if (policy.releaseHours === undefined) return candidate;
    const now = p.hour * 60 + p.minute;
    const open = minutesOf(policy.releaseHours.from);
    const close = minutesOf(policy.releaseHours.to);
    if (now >= open && now < close) return candidate;
    if (now < open)
      return zonedInstant(
        p.year,
        p.month,
        p.day,
        Math.floor(open / 60),
        open % 60,
        policy.timezone,
      );
    candidate = localMidnight(candidate, 1, policy.timezone);
  }
  return candidate;
}

/** Whether releases may happen at `now`, and if not, why and until when. */
export function calendarVerdict(policy: CalendarPolicy, now: Date): CalendarVerdict {
  const t = now.getTime();
  const active = policy.freeze.filter((f) => Date.parse(f.from) <= t && t < Date.parse(f.to));
  if (active.length > 0) {
    // Back-to-back or overlapping freezes read as one: report the end of the whole run.
    let until = Math.max(...active.map((f) => Date.parse(f.to)));
    for (let changed = true; changed; ) {
      changed = false;
      for (const f of policy.freeze) {
        if (Date.parse(f.from) <= until && Date.parse(f.to) > until) {
          until = Date.parse(f.to);
          changed = true;
        }
      }
    }
    return {
      open: false,
      kind: 'freeze',
      reason: active.map((f) => f.reason).join(', '),
      until: new Date(until),
    };
  }
  const p = localParts(now, policy.timezone);
  if (policy.blockedDays.includes(p.weekday)) {
    return {
      open: false,
      kind: 'blocked_day',
      reason: `no releases on ${p.weekday}`,
      until: nextOpening(now, policy),
    };
  }
  if (policy.releaseHours !== undefined) {
    const minutes = p.hour * 60 + p.minute;
    if (
      minutes < minutesOf(policy.releaseHours.from) ||
      minutes >= minutesOf(policy.releaseHours.to)
    ) {
      return {
        open: false,
        kind: 'outside_hours',
        reason: `releases run ${policy.releaseHours.from}–${policy.releaseHours.to} ${policy.timezone}`,
        until: nextOpening(now, policy),
      };
    }
  }
  return { open: true };
}

/** `Mon 1 Dec 00:00 CET`: how a person reads an instant in the team's time zone. */
export function formatLocal(instant: Date, timezone: string): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-GB', {
      timeZone: timezone,
      weekday: 'short',
      day: 'numeric',
      month: 'short',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
      timeZoneName: 'short',
    })
      .formatToParts(instant)
      .map((x) => [x.type, x.value]),
  );
  return `${parts.weekday} ${parts.day} ${parts.month} ${parts.hour}:${parts.minute} ${parts.timeZoneName}`;
}
