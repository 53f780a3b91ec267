import type { Clock } from '../src/app/ports.ts';

/**
 * A clock that moves only when told: use cases read it through the app's `Clock` port, tests move
 * it with `advance` or `set` instead of sleeping. Each `now()` returns a fresh `Date`, so a caller
 * that keeps one never sees it change under it.
 */
export interface ManualClock extends Clock {
  now(): Date;
  /** Moves time forward by `ms` (a negative `ms` is refused: time here never runs backwards). */
  advance(ms: number): Date;
  /** Jumps to `date`, in either direction (a test replaying a moment, or a clock correction). */
  set(date: Date | string | number): Date;
}

export function manualClock(start: Date | string | number = Date.now()): ManualClock {
  let current = toMillis(start);
  return {
    now: () => new Date(current),
    advance(ms) {
      if (!Number.isFinite(ms) || ms < 0)
        throw new RangeError(`advance(${ms}): give a non-negative number of milliseconds`);
      current += ms;
      return new Date(current);
    },
    set(date) {
      current = toMillis(date);
      return new Date(current);
    },
  };
}

function toMillis(value: Date | string | number): number {
  const ms = value instanceof Date ? value.getTime() : new Date(value).getTime();
  if (Number.isNaN(ms)) throw new RangeError(`not a point in time: ${String(value)}`);
  return ms;
}
