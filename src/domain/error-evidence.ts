/**
 * The error judge's evidence: bounded sufficient statistics of every interval counted so far
 * (error-judge.ts explains why these suffice).
 */

export interface SlotCounts {
  readonly requests: number;
  readonly errors: number;
}

/** One analysis interval: both slots over the same interval. */
export interface IntervalCounts {
  readonly canary: SlotCounts;
  readonly baseline: SlotCounts;
}

/** Intervals in which both slots had traffic and the canary's share rounded to the same percent. */
export interface ShareGroup {
  /** The canary's share of requests in whole percent, 0–100: the group's key. */
  readonly sharePercent: number;
  readonly canaryRequests: number;
  readonly canaryErrors: number;
  readonly baselineRequests: number;
  readonly baselineErrors: number;
  /**
   * Sum over the group's intervals of (errors in the interval × the canary's exact share);
   * divided by the group's errors, the error-weighted mean share the test uses.
   */
  readonly errorWeightedShare: number;
}

/**
 * Bounded sufficient statistics of every interval judged so far: plain JSON, at most 101
 * groups whatever the number of intervals.
 */
export interface ErrorEvidence {
  /** Intervals counted (those skipped as unusable are not). */
  readonly intervals: number;
  /** Totals over every counted interval, including those without baseline traffic. */
  readonly canaryRequests: number;
  readonly canaryErrors: number;
  readonly baselineRequests: number;
  readonly baselineErrors: number;
  /** Intervals where both slots had traffic, by the canary's share; sorted by `sharePercent`. */
  readonly groups: readonly ShareGroup[];
}

export const NO_EVIDENCE: ErrorEvidence = {
  intervals: 0,
  canaryRequests: 0,
  canaryErrors: 0,
  baselineRequests: 0,
  baselineErrors: 0,
  groups: [],
};

/** Clean counts of one slot, or null when they cannot be used (NaN, negative, infinite). */
function clean(slot: SlotCounts): SlotCounts | null {
  const { requests, errors } = slot;
  if (!Number.isFinite(requests) || !Number.isFinite(errors) || requests < 0 || errors < 0) {
    return null;
  }
  return { requests, errors: Math.min(errors, requests) };
}

/**
 * Adds one interval. Intervals with unusable counts or no canary requests are skipped (they
 * say nothing about the canary); an interval without baseline traffic counts towards the
 * canary's own totals only.
 */
export function addInterval(evidence: ErrorEvidence, interval: IntervalCounts): ErrorEvidence {
  const canary = clean(interval.canary);
  const baseline = clean(interval.baseline);
  if (canary === null || baseline === null || canary.requests === 0) return evidence;
  const totals = {
    intervals: evidence.intervals + 1,
    canaryRequests: evidence.canaryRequests + canary.requests,
    canaryErrors: evidence.canaryErrors + canary.errors,
    baselineRequests: evidence.baselineRequests + baseline.requests,
    baselineErrors: evidence.baselineErrors + baseline.errors,
  };
  if (baseline.requests === 0) return { ...totals, groups: evidence.groups };
  const share = canary.requests / (canary.requests + baseline.requests);
  const sharePercent = Math.round(share * 100);
  const errors = canary.errors + baseline.errors;
  const old = evidence.groups.find((g) => g.sharePercent === sharePercent);
  const group: ShareGroup = {
    sharePercent,
    canaryRequests: (old?.canaryRequests ?? 0) + canary.requests,
    canaryErrors: (old?.canaryErrors ?? 0) + canary.errors,
    baselineRequests: (old?.baselineRequests ?? 0) + baseline.requests,
    baselineErrors: (old?.baselineErrors ?? 0) + baseline.errors,
    errorWeightedShare: (old?.errorWeightedShare ?? 0) + errors * share,
  };
  const groups = [...evidence.groups.filter((g) => g.sharePercent !== sharePercent), group].sort(
    (a, b) => a.sharePercent - b.sharePercent,
  );
  return { ...totals, groups };
}

export interface Totals {
  readonly canaryRequests: number;
  readonly canaryErrors: number;
  readonly baselineRequests: number;
  readonly baselineErrors: number;
}

export function totalsOf(groups: readonly ShareGroup[]): Totals {
  return groups.reduce(
    (t, g) => ({
      canaryRequests: t.canaryRequests + g.canaryRequests,
      canaryErrors: t.canaryErrors + g.canaryErrors,
      baselineRequests: t.baselineRequests + g.baselineRequests,
      baselineErrors: t.baselineErrors + g.baselineErrors,
    }),
    { canaryRequests: 0, canaryErrors: 0, baselineRequests: 0, baselineErrors: 0 },
  );
}

/** Canary error rate over baseline error rate; null when the baseline had no errors. */
export function observedRatio(t: Totals): number | null {
  if (t.baselineErrors <= 0 || t.baselineRequests <= 0 || t.canaryRequests <= 0) return null;
  return t.canaryErrors / t.canaryRequests / (t.baselineErrors / t.baselineRequests);
}
