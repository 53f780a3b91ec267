import type { ErrorEvidence } from './error-evidence.ts';
import type { ErrorJudgeSettings } from './error-judge-settings.ts';

// The e-processes of the error judge (error-judge.ts gives the model and why they are valid).

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
export function logSumExp(xs: readonly number[]): number {
  const max = Math.max(...xs);
  if (max === Number.NEGATIVE_INFINITY) return max;
  return max + Math.log(xs.reduce((sum, x) => sum + Math.exp(x - max), 0));
}

/** Canary errors, baseline errors and the (error-weighted) canary share of one group. */
export interface Cell {
  readonly canary: number;
  readonly baseline: number;
  readonly share: number;
}

export function cellsOf(evidence: ErrorEvidence): Cell[] {
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
export function logRatioLr(cells: readonly Cell[], alt: number, nul: number): number {
  let sum = 0;
  for (const { canary, baseline, share: w } of cells) {
    sum +=
      (canary > 0 ? canary * Math.log(alt / nul) : 0) -
      (canary + baseline) * Math.log((alt * w + 1 - w) / (nul * w + 1 - w));
  }
  return sum;
}

/** log of the fail e-process (H0: r ≤ 1). */
export function logFailE(cells: readonly Cell[]): number {
  return logSumExp(
    FAIL_RATIOS.map((r, j) => Math.log(FAIL_WEIGHTS[j] ?? 0) + logRatioLr(cells, r, 1)),
  );
}

/** The pass test's (a) alternatives with their log prior weights. */
export function passAlternatives(maxRatio: number): { ratio: number; logWeight: number }[] {
  const equal = maxRatio > 1 ? PASS_WEIGHT_OF_EQUAL : 0;
  const spread = Math.log((1 - equal) / PASS_FACTORS.length);
  const alternatives = PASS_FACTORS.map((f) => ({ ratio: f * maxRatio, logWeight: spread }));
  if (equal > 0) alternatives.push({ ratio: 1, logWeight: Math.log(equal) });
  return alternatives;
}

/** log of the pass e-process (a) (H0: r ≥ maxErrorRatio). */
export function logRatioPassE(cells: readonly Cell[], maxRatio: number): number {
  return logSumExp(
    passAlternatives(maxRatio).map((a) => a.logWeight + logRatioLr(cells, a.ratio, maxRatio)),
  );
}

/** log of the pass e-process (b) (H0: the canary's error rate ≥ floor), Binomial counts. */
export function logFloorPassE(requests: number, errors: number, floor: number): number {
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

export const logThreshold = (chance: number) =>
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
