/**
 * Feature flags tied to a release: what the release turned on (so a rollback knows what to turn
 * off, and so does a restart), and what a rollback's flag step achieved.
 */

/** A flag as the release left it: `percent` 0 means off. */
export interface ReleaseFlag {
  readonly name: string;
  readonly percent: number;
  readonly by: string;
  readonly at: string;
}

/** One flag the rollback tried to turn off, and whether the provider did. */
export interface FlagOutcome {
  readonly name: string;
  readonly ok: boolean;
  /** `off` when it worked; otherwise why not, in one line. */
  readonly detail: string;
}

/**
 * What `/flag` asks for: `on` (100 %), `off`, a gradual-rollout percentage, or `ramp` (its
 * `rollout` steps, one analysed hold each).
 */
export type FlagChange =
  | { readonly kind: 'on' }
  | { readonly kind: 'off' }
  | { readonly kind: 'ramp' }
  | { readonly kind: 'percent'; readonly percent: number };

/** `on`, `off`, `ramp`, `25` or `25%`; undefined for anything else. */
export function parseFlagChange(word: string | undefined): FlagChange | undefined {
  const lower = (word ?? '').toLowerCase();
  if (lower === 'on') return { kind: 'on' };
  if (lower === 'off') return { kind: 'off' };
  if (lower === 'ramp') return { kind: 'ramp' };
  const match = /^(\d{1,3})%?$/.exec(lower);
  if (match === null) return undefined;
  const percent = Number(match[1]);
  if (percent < 0 || percent > 100) return undefined;
  return percent === 0 ? { kind: 'off' } : { kind: 'percent', percent };
}

/** The percentage a change leaves the flag at (0: off); a ramp starts at its first step. */
export function percentAfter(change: FlagChange, rollout: readonly number[] = [100]): number {
  switch (change.kind) {
    case 'on':
      return 100;
    case 'off':
      return 0;
    case 'ramp':
      return rollout[0] ?? 100;
    case 'percent':
      return change.percent;
  }
}

/** Flags the release left on, which a rollback must turn off first. */
export function flagsLeftOn(flags: readonly ReleaseFlag[] | undefined): ReleaseFlag[] {
  return (flags ?? []).filter((flag) => flag.percent > 0);
}

/** The release's flags after one change: each flag keeps its latest state. */
export function withFlag(
  flags: readonly ReleaseFlag[] | undefined,
  flag: ReleaseFlag,
): ReleaseFlag[] {
  return [...(flags ?? []).filter((f) => f.name !== flag.name), flag];
}

export function describeFlagState(percent: number): string {
  return percent === 0 ? 'off' : percent === 100 ? 'on (100 %)' : `on for ${percent} %`;
}

/** One line per flag outcome, for the alert and the thread. */
export function describeOutcomes(outcomes: readonly FlagOutcome[]): string {
  return outcomes
    .map((o) => (o.ok ? `${o.name} turned off` : `${o.name} NOT changed (${o.detail})`))
    .join('; ');
}
