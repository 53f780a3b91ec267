import { type ErrorEvidence, observedRatio, totalsOf } from './error-evidence.ts';
import type { ErrorJudgeSettings } from './error-judge-settings.ts';
import { englishNumber } from './number-format.ts';

// The error judge's evidence in words

const count = (n: number) => englishNumber(Math.round(n));

/** 2 significant figures, upwards: "about 3,200 more". */
function roundUp(n: number): number {
  if (n < 100) return Math.ceil(n);
  const step = 10 ** (Math.floor(Math.log10(n)) - 1);
  return Math.ceil(n / step) * step;
}

export function percentText(percent: number): string {
  if (percent === 0) return '0 %';
  const shown = percent >= 0.01 ? Number(percent.toFixed(2)) : Number(percent.toPrecision(2));
  return `${englishNumber(shown, 20)} %`;
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

/** What is missing, in words. */
export function missingEvidence(
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
