import {
  type Cell,
  cellsOf,
  logFloorPassE,
  logRatioLr,
  logSumExp,
  logThreshold,
  passAlternatives,
} from './error-e-values.ts';
import type { ErrorEvidence } from './error-evidence.ts';
import { observedRatio, totalsOf } from './error-evidence.ts';
import type { ErrorJudgeSettings } from './error-judge-settings.ts';

// How many more canary requests would pass it

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
