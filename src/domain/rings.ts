import type { Release, RingStage } from './release.ts';
import type { Slot } from './slots.ts';

/** Who is in an audience ring, as greenlight.yml says (header or cookie values, or networks). */
export type RingMatch =
  | { readonly header: string; readonly values: readonly string[] }
  | { readonly cookie: string; readonly values: readonly string[] }
  | { readonly source: readonly string[] };

export interface Ring {
  readonly match?: RingMatch;
  readonly percent?: number;
  readonly soakMinutes: number;
}

/** Rings by name, in the order a release walks them. */
export type Rings = Readonly<Record<string, Ring>>;

/** Which map an audience entry lives in: header or cookie values, or client networks. */
export type AudienceKind = 'header' | 'cookie' | 'source';

/** One entry of an audience map: requests matching `key` go to `slot`. */
export interface AudienceEntry {
  readonly kind: AudienceKind;
  readonly key: string;
  readonly slot: Slot;
  /** Read from a fleet: held by some load balancers only. Never wanted, so always a difference. */
  readonly partial?: boolean;
}

/** The canary weights the rings ask for, ring by ring: an audience ring adds no share. */
export function ringSteps(rings: Rings): number[] {
  let share = 0;
  return Object.values(rings).map((ring) => {
    share = ring.percent ?? share;
    return share;
  });
}

export function ringAt(rings: Rings, stepIndex: number): { name: string; ring: Ring } | undefined {
  const entry = Object.entries(rings)[stepIndex];
  return entry === undefined ? undefined : { name: entry[0], ring: entry[1] };
}

function entriesOf(match: RingMatch, slot: Slot): AudienceEntry[] {
  if ('header' in match) return match.values.map((key) => ({ kind: 'header', key, slot }));
  if ('cookie' in match) return match.values.map((key) => ({ kind: 'cookie', key, slot }));
  return match.source.map((key) => ({ kind: 'source', key, slot }));
}

/**
 * The audience entries wanted now, derived like the weights: while a release ramps (or switches)
 * through its rings, every audience ring reached so far is sent to the new slot. Otherwise none:
 * before, once everyone is on the new version, and after a rollback, which so restores all rings.
 */
export function ringAudience(rings: Rings | undefined, release: Release | null): AudienceEntry[] {
  if (rings === undefined || release === null || release.canary === undefined) return [];
  if (release.state !== 'ramping' && release.state !== 'switching') return [];
  return Object.values(rings)
    .slice(0, release.canary.stepIndex + 1)
    .flatMap((ring) => (ring.match ? entriesOf(ring.match, release.toSlot) : []));
}

const keyOf = (e: AudienceEntry) => `${e.kind} ${e.key} ${e.slot}${e.partial ? ' partial' : ''}`;

export function sameAudience(a: readonly AudienceEntry[], b: readonly AudienceEntry[]): boolean {
  const left = new Set(a.map(keyOf));
  const right = new Set(b.map(keyOf));
  return left.size === right.size && [...left].every((k) => right.has(k));
}

/** Who is in a ring, in words: `X-Greenlight-Ring: internal, beta`, `cookie gl=staff`, `10.0.0.0/8`. */
export function describeRing(ring: Ring): string {
  const match = ring.match;
  if (match === undefined) return `${ring.percent} % of everyone`;
  if ('header' in match) return `requests with ${match.header}: ${match.values.join(', ')}`;
  if ('cookie' in match) return `requests with cookie ${match.cookie}=${match.values.join('|')}`;
  return `requests from ${match.source.join(', ')}`;
}

export function describeAudience(entries: readonly AudienceEntry[]): string {
  if (entries.length === 0) return 'no audience routed';
  return entries
    .map(
      (e) => `${e.kind} ${e.key} → ${e.slot}${e.partial ? ' (on some load balancers only)' : ''}`,
    )
    .join(', ');
}

/** The rings as a release records them at /release: its steps are theirs. */
export function ringStages(rings: Rings): RingStage[] {
  return Object.entries(rings).map(([name, ring]) => ({
    name,
    who: describeRing(ring),
    soakMinutes: ring.soakMinutes,
  }));
}

/** How long the current step holds: its ring's soak, or the canary's hold. */
export function holdMinutesOf(release: Release, canaryHoldMinutes: number): number {
  const canary = release.canary;
  return canary?.rings?.[canary.stepIndex]?.soakMinutes ?? canaryHoldMinutes;
}

/** A canary step in words: `ring early` with rings, `20 %` without. */
export function stageLabel(release: Release, index: number): string {
  const ring = release.canary?.rings?.[index];
  return ring ? `ring ${ring.name}` : `${release.canary?.steps[index] ?? 100} %`;
}

/** `ring internal started: … now reach 2.4.1 on green …; it soaks 120 min`, with rings. */
export function ringEntered(release: Release, index: number): string | undefined {
  const ring = release.canary?.rings?.[index];
  if (ring === undefined) return undefined;
  const share = release.canary?.steps[index] ?? 0;
  return `ring ${ring.name} started: ${ring.who} now reach ${release.version} on ${release.toSlot}${share > 0 ? ` (${share} % of everyone else too)` : ', everyone else stays on production'}; it soaks ${ring.soakMinutes} min`;
}
