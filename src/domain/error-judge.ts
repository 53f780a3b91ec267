/**
 * The canary's error judge: a sequential test that compares the canary's errors with its
 * baseline's and stays valid however often it looks.
 *
 * **Model.** In one interval the canary served `n_c` requests and the baseline `n_b`; errors on
 * each are (close to) Poisson with rates `λ_c·n_c` and `λ_b·n_b`. Given the interval's total
 * number of errors `k`, each error falls on the canary independently with probability
 *
 *     p(r, w) = r·w / (r·w + 1 − w),   w = n_c / (n_c + n_b),   r = λ_c / λ_b,
 *
 * so the canary's errors are Binomial(k, p(r, w)). (With a fixed number of requests the split
 * is exactly Fisher's noncentral hypergeometric; at `r = 1` that is the central one, less
 * spread than the binomial, which only makes the test below more conservative.) The
 * baseline's own rate `λ_b` has gone: no
 * guess of "normal" error rate is needed, the baseline may drift or burst (a burst on the
 * baseline alone only makes `r` smaller), and `w` may change from interval to interval (canary
 * steps, uneven traffic) because each interval brings its own `w`. The log-odds of `p` is
 * `logit(w) + log r`: a logistic model with a known offset and one parameter, the ratio.
 *
 * **Fail: strong evidence of harm** (H0: `r ≤ 1`). For an alternative `r_j > 1` the likelihood
 * ratio of one error is `p(r_j, w)/p(1, w)` if it fell on the canary and
 * `(1 − p(r_j, w))/(1 − p(1, w))` if not. Its expectation under any `r ≤ 1` is
 * `p·a + (1 − p)·b`, linear in `p` with `a > 1 > b`, equal to 1 at `p = p(1, w) = w` and so at
 * most 1 for every `p ≤ w`, that is every `r ≤ 1`: the running product over errors is a
 * nonnegative supermartingale under every null ratio at once. A mixture of such products with
 * fixed prior weights summing to 1 (alternatives log-spaced from 1.25 to 100) is one too, and
 * Ville's inequality bounds the chance that it ever reaches `1/falseFailure` by `falseFailure`,
 * however many times it is looked at, and whenever the looking stops. The mixture needs no
 * guess of how bad a bad canary is: a 20× regression reaches the threshold on a handful of
 * errors through the large alternatives, a 1.5× one later through the small ones.
 *
 * **Pass: evidence of no meaningful harm**, either
 * (a) the mirror test, H0: `r ≥ maxErrorRatio`, alternatives log-spaced below the tolerance,
 *     reaches `1/falsePass`; or
 * (b) when errors are too rare to compare, a test on the canary's own counts (Binomial, H0: its
 *     error rate is at least `errorRateFloorPercent`, alternatives at fractions of the floor
 *     down to zero) reaches `1/falsePass`: zero errors in 5,569 canary requests pass at the
 *     defaults, zero errors in 1,000 never could (`(1/(1 − 0.001))^1000 ≈ 2.7`, far from 100).
 * A canary is never passed on zero canary requests.
 *
 * **Extend** otherwise, with an estimate of the canary requests that would let it pass if the
 * observed rates held (found by projecting the expected counts forward), or null.
 *
 * **Bounded evidence.** Only sufficient statistics are kept: the totals, and per group of
 * intervals with the same canary share rounded to 1 %, the counts and the error-weighted mean
 * share. The product over intervals of a group collapses to powers of one likelihood ratio
 * evaluated at that mean; within a group shares differ by at most one point, and with the
 * error-weighted mean the canary's expected errors under `r = 1` are exact, so the
 * approximation is of second order (and, by Hoeffding's inequality for sums of unequal
 * Bernoulli trials, conservative for the fail test at `r = 1` at any one look). The mean moves
 * a little as intervals join a group, so the anytime guarantee holds up to that approximation:
 * bench/judgement.ts measures false rollbacks with shares that vary as Poisson traffic does.
 * At most 101 groups exist, whatever the number of intervals.
 *
 * **What it costs.** At `falseFailure` 0.001 a 2 % canary against a 0.1 % baseline at 4
 * canary requests a second (20 req/s, 20 % weight) fails within two 60 s intervals in about
 * three runs of four, within three in 94 %; no valid test can do much better on those few
 * errors (the exact conditional test allowed a single look after two intervals: 86 %). A
 * healthy canary at that traffic needs about 1.5 hours to show it is within 2× its baseline.
 *
 * **Not modelled.** Errors that come in correlated clumps within the canary alone (one client
 * retrying the same failing call) count as many independent errors; a canary whose errors
 * are all on a handful of clients can be failed by them, which is usually what one wants.
 * Error rates below the floor are never failed on errors, whatever the ratio (the floor's
 * definition): such a canary extends until rule (b) passes it.
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

export interface ErrorJudgeSettings {
  /** Tolerance: a canary error rate up to this multiple of the baseline's is not meaningful harm. Default 2. */
  readonly maxErrorRatio: number;
  /** Error rates below this (percent) are never meaningful harm, whatever the ratio. Default 0.1. */
  readonly errorRateFloorPercent: number;
  /** Chance of failing a canary that is no worse than its baseline (anytime). Default 0.001. */
  readonly falseFailure: number;
  /** Chance of passing a canary that is meaningfully worse (anytime). Default 0.01. */
  readonly falsePass: number;
}

export const DEFAULT_ERROR_JUDGE: ErrorJudgeSettings = {
  maxErrorRatio: 2,
  errorRateFloorPercent: 0.1,
  falseFailure: 0.001,
  falsePass: 0.01,
};

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

export type ErrorJudgement =
  | { readonly verdict: 'fail'; readonly evidence: string }
  | { readonly verdict: 'pass'; readonly evidence: string }
  | {
      readonly verdict: 'extend';
      readonly evidence: string;
      readonly moreCanaryRequests: number | null;
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

// ---------------------------------------------------------------------------------------------
// The e-processes

/**
 * Alternatives of the fail test: 12 ratios log-spaced from 1.25 to 100, equal prior weights.
 * (Weights leaning towards large ratios, narrower or wider grids and a single alternative at
 * the true ratio were tried in bench/judgement.ts's regression: none moved detection within two
 * intervals by more than about three points; the count of errors is what limits it.)
 */
const FAIL_RATIOS = logSpaced(1.25, 100, 12);
const FAIL_WEIGHTS = normalised(FAIL_RATIOS.map(() => 1));
/** Alternatives of the pass test (a), as fractions of `maxErrorRatio`: 1/1.25 down to 1/20. */
const PASS_FACTORS = logSpaced(1 / 20, 1 / 1.25, 8);
/**
 * Prior weight of "the canary is exactly as good as the baseline" (ratio 1) in the pass test;
 * the rest is spread evenly over `PASS_FACTORS`. Most canaries are as good as their baseline,
 * and ratio 1 is the alternative that gains fastest against the tolerance when they are:
 * half the weight there makes a healthy canary pass about a fifth sooner than an even spread.
 */
const PASS_WEIGHT_OF_EQUAL = 0.5;
/** Alternatives of the pass test (b), as fractions of the floor rate; zero is "no errors". */
const FLOOR_FACTORS = [0, 0.1, 0.25, 0.5, 0.7];
const FLOOR_WEIGHTS = normalised(FLOOR_FACTORS.map(() => 1));

function logSpaced(from: number, to: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => from * (to / from) ** (i / (count - 1)));
}

function normalised(weights: readonly number[]): number[] {
  const sum = weights.reduce((a, b) => a + b, 0);
  return weights.map((w) => w / sum);
}

/** log Σ exp(x_i), stable. */
function logSumExp(xs: readonly number[]): number {
  const max = Math.max(...xs);
  if (max === Number.NEGATIVE_INFINITY) return max;
  return max + Math.log(xs.reduce((sum, x) => sum + Math.exp(x - max), 0));
}

/** Canary errors, baseline errors and the (error-weighted) canary share of one group. */
interface Cell {
  readonly canary: number;
  readonly baseline: number;
  readonly share: number;
}

function cellsOf(evidence: ErrorEvidence): Cell[] {
  return evidence.groups
    .filter((g) => g.canaryErrors + g.baselineErrors > 0)
    .map((g) => ({
      canary: g.canaryErrors,
      baseline: g.baselineErrors,
      share: g.errorWeightedShare / (g.canaryErrors + g.baselineErrors),
    }));
}

/**
 * log of the likelihood ratio of ratio `alt` against ratio `nul` over the cells:
 * per cell `C·log(alt/nul) − K·log((alt·w + 1 − w)/(nul·w + 1 − w))`.
 */
function logRatioLr(cells: readonly Cell[], alt: number, nul: number): number {
  let sum = 0;
  for (const { canary, baseline, share: w } of cells) {
    sum +=
      (canary > 0 ? canary * Math.log(alt / nul) : 0) -
      (canary + baseline) * Math.log((alt * w + 1 - w) / (nul * w + 1 - w));
  }
  return sum;
}

/** log of the fail e-process (H0: r ≤ 1). */
function logFailE(cells: readonly Cell[]): number {
  return logSumExp(
    FAIL_RATIOS.map((r, j) => Math.log(FAIL_WEIGHTS[j] ?? 0) + logRatioLr(cells, r, 1)),
  );
}

/** The pass test's (a) alternatives with their log prior weights. */
function passAlternatives(maxRatio: number): { ratio: number; logWeight: number }[] {
  const equal = maxRatio > 1 ? PASS_WEIGHT_OF_EQUAL : 0;
  const spread = Math.log((1 - equal) / PASS_FACTORS.length);
  const alternatives = PASS_FACTORS.map((f) => ({ ratio: f * maxRatio, logWeight: spread }));
  if (equal > 0) alternatives.push({ ratio: 1, logWeight: Math.log(equal) });
  return alternatives;
}

/** log of the pass e-process (a) (H0: r ≥ maxErrorRatio). */
function logRatioPassE(cells: readonly Cell[], maxRatio: number): number {
  return logSumExp(
    passAlternatives(maxRatio).map((a) => a.logWeight + logRatioLr(cells, a.ratio, maxRatio)),
  );
}

/** log of the pass e-process (b) (H0: the canary's error rate ≥ floor), Binomial counts. */
function logFloorPassE(requests: number, errors: number, floor: number): number {
  if (!(floor > 0 && floor < 1) || requests <= 0) return 0;
  return logSumExp(
    FLOOR_FACTORS.map((f, j) => {
      const theta = f * floor;
      const prior = Math.log(FLOOR_WEIGHTS[j] ?? 0);
      const errorTerm =
        errors > 0 ? (theta > 0 ? errors * Math.log(theta / floor) : Number.NEGATIVE_INFINITY) : 0;
      return prior + errorTerm + (requests - errors) * Math.log((1 - theta) / (1 - floor));
    }),
  );
}

const logThreshold = (chance: number) =>
  chance > 0 && chance < 1 ? Math.log(1 / chance) : Number.POSITIVE_INFINITY;

/** The three e-values behind a judgement (1 = no evidence; a verdict needs 1/chance). */
export interface ErrorEValues {
  /** Against "the canary is no worse than the baseline": fails at 1/falseFailure. */
  readonly harm: number;
  /** Against "the canary is at least maxErrorRatio × worse": passes at 1/falsePass. */
  readonly withinTolerance: number;
  /** Against "the canary's error rate is at least the floor": passes at 1/falsePass. */
  readonly belowFloor: number;
}

export function errorEValues(evidence: ErrorEvidence, settings: ErrorJudgeSettings): ErrorEValues {
  const cells = cellsOf(evidence);
  return {
    harm: Math.exp(cells.length > 0 ? logFailE(cells) : 0),
    withinTolerance: Math.exp(cells.length > 0 ? logRatioPassE(cells, settings.maxErrorRatio) : 0),
    belowFloor: Math.exp(
      logFloorPassE(
        evidence.canaryRequests,
        evidence.canaryErrors,
        settings.errorRateFloorPercent / 100,
      ),
    ),
  };
}

/** Judges everything seen so far; pure, and cheap enough to run on every interval. */
export function judgeErrors(evidence: ErrorEvidence, settings: ErrorJudgeSettings): ErrorJudgement {
  const description = describeEvidence(evidence);
  if (evidence.canaryRequests <= 0) {
    return { verdict: 'extend', evidence: description, moreCanaryRequests: null };
  }
  const floor = settings.errorRateFloorPercent / 100;
  const cells = cellsOf(evidence);
  const canaryRate = evidence.canaryErrors / evidence.canaryRequests;

  if (
    cells.length > 0 &&
    canaryRate >= floor &&
    logFailE(cells) >= logThreshold(settings.falseFailure)
  ) {
    return { verdict: 'fail', evidence: `${description}, strong evidence of harm` };
  }
  const passAt = logThreshold(settings.falsePass);
  if (cells.length > 0 && logRatioPassE(cells, settings.maxErrorRatio) >= passAt) {
    return {
      verdict: 'pass',
      evidence: `${description}, evidence of no meaningful harm (within ${settings.maxErrorRatio}× baseline)`,
    };
  }
  if (logFloorPassE(evidence.canaryRequests, evidence.canaryErrors, floor) >= passAt) {
    return {
      verdict: 'pass',
      evidence: `${description}, evidence of no meaningful harm (canary errors below ${percentText(settings.errorRateFloorPercent)})`,
    };
  }
  const more = moreCanaryRequests(evidence, settings);
  return {
    verdict: 'extend',
    evidence: `${description}, ${missing(evidence, settings, more)}`,
    moreCanaryRequests: more,
  };
}

/** What is missing, in words. */
function missing(
  evidence: ErrorEvidence,
  settings: ErrorJudgeSettings,
  more: number | null,
): string {
  if (more !== null)
    return `not enough evidence yet: about ${count(roundUp(more))} more canary requests`;
  const floor = percentText(settings.errorRateFloorPercent);
  if (evidence.groups.length === 0) {
    return `not enough evidence yet: the canary's errors are not clearly below ${floor}`;
  }
  const comparable = totalsOf(evidence.groups);
  if (comparable.canaryErrors + comparable.baselineErrors === 0) {
    return 'not enough evidence yet: no errors on either slot to compare';
  }
  const ratio = observedRatio(comparable);
  if (ratio !== null && ratio < settings.maxErrorRatio) {
    return 'not enough evidence yet either way';
  }
  return 'not enough evidence yet: errors look worse than the baseline, not conclusively';
}

// ---------------------------------------------------------------------------------------------
// How many more canary requests would pass it

interface Totals {
  readonly canaryRequests: number;
  readonly canaryErrors: number;
  readonly baselineRequests: number;
  readonly baselineErrors: number;
}

function totalsOf(groups: readonly ShareGroup[]): Totals {
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
function observedRatio(t: Totals): number | null {
  if (t.baselineErrors <= 0 || t.baselineRequests <= 0 || t.canaryRequests <= 0) return null;
  return t.canaryErrors / t.canaryRequests / (t.baselineErrors / t.baselineRequests);
}

const PROJECTION_LIMIT = 1e10;

/**
 * Smallest `x ≥ 0` with `reaches(x)`, for a `reaches` that is false at 0 and monotone (the log
 * of a mixture of exponentials of linear functions of `x` is convex, so once the threshold is
 * crossed it stays crossed); null when not even `PROJECTION_LIMIT` reaches it.
 */
function firstReaching(reaches: (x: number) => boolean): number | null {
  if (!reaches(PROJECTION_LIMIT)) return null;
  let lo = 0;
  let hi = 1;
  while (!reaches(hi)) {
    lo = hi;
    hi *= 2;
  }
  // Two significant figures are all the words show.
  while (hi - lo > Math.max(1, hi * 0.005)) {
    const mid = (lo + hi) / 2;
    if (reaches(mid)) hi = mid;
    else lo = mid;
  }
  return Math.ceil(hi);
}

/**
 * About how many more canary requests would let the canary pass if the observed rates held:
 * the expected counts are projected forward (the baseline at the canary's overall share) and
 * the smaller of the two pass routes wins. Null when neither could pass on the observed rates.
 */
export function moreCanaryRequests(
  evidence: ErrorEvidence,
  settings: ErrorJudgeSettings,
): number | null {
  if (evidence.canaryRequests <= 0) return null;
  const floor = settings.errorRateFloorPercent / 100;
  const passAt = logThreshold(settings.falsePass);
  const routes: number[] = [];

  const canaryRate = evidence.canaryErrors / evidence.canaryRequests;
  if (canaryRate < floor) {
    const viaFloor = firstReaching(
      (x) =>
        logFloorPassE(evidence.canaryRequests + x, evidence.canaryErrors + canaryRate * x, floor) >=
        passAt,
    );
    if (viaFloor !== null) routes.push(viaFloor);
  }

  const t = totalsOf(evidence.groups);
  const ratio = observedRatio(t);
  if (ratio !== null && ratio < settings.maxErrorRatio) {
    const cells = cellsOf(evidence);
    // Each alternative's log likelihood ratio is what the evidence has plus a term linear in
    // the projected requests: one more cell with the expected errors per canary request.
    const perRequest: Cell = {
      canary: t.canaryErrors / t.canaryRequests,
      baseline: t.baselineErrors / t.canaryRequests,
      share: t.canaryRequests / (t.canaryRequests + t.baselineRequests),
    };
    const lines = passAlternatives(settings.maxErrorRatio).map((a) => ({
      at0: a.logWeight + logRatioLr(cells, a.ratio, settings.maxErrorRatio),
      slope: logRatioLr([perRequest], a.ratio, settings.maxErrorRatio),
    }));
    const viaRatio = firstReaching(
      (x) => logSumExp(lines.map((l) => l.at0 + l.slope * x)) >= passAt,
    );
    if (viaRatio !== null) routes.push(viaRatio);
  }
  return routes.length === 0 ? null : Math.min(...routes);
}

// ---------------------------------------------------------------------------------------------
// Words

const INTEGER = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const DECIMAL = new Intl.NumberFormat('en-US', { maximumFractionDigits: 20 });
const count = (n: number) => INTEGER.format(Math.round(n));

/** 2 significant figures, upwards: "about 3,200 more". */
function roundUp(n: number): number {
  if (n < 100) return Math.ceil(n);
  const step = 10 ** (Math.floor(Math.log10(n)) - 1);
  return Math.ceil(n / step) * step;
}

function percentText(percent: number): string {
  if (percent === 0) return '0 %';
  const shown = percent >= 0.01 ? Number(percent.toFixed(2)) : Number(percent.toPrecision(2));
  return `${DECIMAL.format(shown)} %`;
}

function ratioText(ratio: number): string {
  if (ratio >= 10) return `${count(ratio)}×`;
  if (ratio >= 1) return `${ratio.toFixed(1)}×`;
  return `${ratio.toFixed(2)}×`;
}

const slotText = (errors: number, requests: number) =>
  `${count(errors)} of ${count(requests)} (${percentText(requests > 0 ? (100 * errors) / requests : 0)})`;

/** "errors 12 of 1,840 (0.65 %) vs baseline 3 of 7,360 (0.04 %): 16× baseline" */
export function describeEvidence(evidence: ErrorEvidence): string {
  if (evidence.canaryRequests <= 0) return 'no canary requests yet';
  const canary = `errors ${slotText(evidence.canaryErrors, evidence.canaryRequests)}`;
  if (evidence.baselineRequests <= 0) return `${canary}, no baseline traffic to compare with`;
  const both = `${canary} vs baseline ${slotText(evidence.baselineErrors, evidence.baselineRequests)}`;
  if (evidence.baselineErrors <= 0) {
    return `${both}: ${evidence.canaryErrors > 0 ? 'baseline had no errors' : 'no errors on either'}`;
  }
  if (evidence.canaryErrors <= 0) return `${both}: no canary errors`;
  const ratio = observedRatio(evidence) ?? 0;
  return `${both}: ${ratioText(ratio)} baseline`;
}
