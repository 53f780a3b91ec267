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

import { cellsOf, logFailE, logFloorPassE, logRatioPassE, logThreshold } from './error-e-values.ts';
import type { ErrorEvidence } from './error-evidence.ts';
import type { ErrorJudgeSettings } from './error-judge-settings.ts';
import { moreCanaryRequests } from './error-projection.ts';
import { describeEvidence, missingEvidence, percentText } from './error-words.ts';

export { type ErrorEValues, errorEValues } from './error-e-values.ts';
export {
  addInterval,
  type ErrorEvidence,
  type IntervalCounts,
  NO_EVIDENCE,
  type ShareGroup,
  type SlotCounts,
} from './error-evidence.ts';
export { DEFAULT_ERROR_JUDGE, type ErrorJudgeSettings } from './error-judge-settings.ts';
export { moreCanaryRequests } from './error-projection.ts';
export { describeEvidence } from './error-words.ts';

export type ErrorJudgement =
  | { readonly verdict: 'fail'; readonly evidence: string }
  | { readonly verdict: 'pass'; readonly evidence: string }
  | {
      readonly verdict: 'extend';
      readonly evidence: string;
      readonly moreCanaryRequests: number | null;
    };

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
    evidence: `${description}, ${missingEvidence(evidence, settings, more)}`,
    moreCanaryRequests: more,
  };
}
