import {
  addInterval,
  describeEvidence,
  type ErrorEvidence,
  type ErrorJudgeSettings,
  judgeErrors,
  NO_EVIDENCE,
} from './error-judge.ts';
import { type Bucket, judgeLatency } from './latency-judge.ts';

/** What one analysis interval saw on a slot. */
export interface AnalysisReading {
  /** Requests in the interval; null when the source cannot count them. */
  readonly requests: number | null;
  /**
   * Failed requests in the interval (5xx, connection errors, retries and redispatches where the
   * source sees them); null when the source has only a rate.
   */
  readonly errors?: number | null;
  readonly errorRatePercent: number;
  /** The latency figure of the interval, in milliseconds; what it is says `latencyKind`. */
  readonly latencyMs: number | null;
  /** `p99`: a real 99th percentile; `mean`: an average (HAProxy's `rtime`), labelled as such. */
  readonly latencyKind?: 'p99' | 'mean';
  /** The interval's latency histogram (cumulative, seconds), where the source has one. */
  readonly latencyBuckets?: readonly Bucket[];
}

export interface Thresholds {
  readonly maxErrorRatePercent: number;
  readonly maxP99Ms: number;
  /** Ceiling for a mean response time (HAProxy's `rtime`); maxP99Ms when unset. */
  readonly maxMeanMs?: number | undefined;
  readonly minRequests: number;
}

/**
 * One reading's verdict:
 * - `fail`: strong evidence of harm; the release rolls back at once.
 * - `breach`: a ceiling was crossed in this interval; it rolls back after `consecutiveBreaches`.
 * - `pass`: evidence that the canary does no meaningful harm.
 * - `inconclusive`: not enough evidence yet; `figure` says what is missing.
 * - `no_data`: the source could not be read or returned nothing; never a pass.
 */
export type Verdict =
  | { readonly verdict: 'pass'; readonly figures?: readonly string[] }
  | { readonly verdict: 'breach'; readonly figures: readonly string[] }
  | { readonly verdict: 'fail'; readonly figures: readonly string[] }
  | { readonly verdict: 'inconclusive'; readonly figure: string }
  | { readonly verdict: 'no_data'; readonly figure: string };

export type VerdictName = Verdict['verdict'];

const pct = (n: number) => `${Number(n.toFixed(2))} %`;

export function latencyLabel(reading: Pick<AnalysisReading, 'latencyKind'>): string {
  return reading.latencyKind === 'mean' ? 'mean response time' : 'P99';
}

/**
 * The latency ceiling of one interval (a real P99, or a mean judged against `maxMeanMs`); it
 * rolls back after `consecutiveBreaches` intervals in a row. An interval with fewer than
 * `minRequests` canary requests is too thin for it to mean anything.
 */
export function latencyBreaches(reading: AnalysisReading, thresholds: Thresholds): string[] {
  if (reading.requests !== null && reading.requests < Math.max(1, thresholds.minRequests))
    return [];
  const ceiling =
    reading.latencyKind === 'mean'
      ? (thresholds.maxMeanMs ?? thresholds.maxP99Ms)
      : thresholds.maxP99Ms;
  return reading.latencyMs !== null && reading.latencyMs > ceiling
    ? [`${latencyLabel(reading)} ${Math.round(reading.latencyMs)} ms > ${ceiling} ms`]
    : [];
}

/** Alternatives above the error ceiling, as multiples of it: a mixture needs no guess of how bad. */
const CEILING_ALTERNATIVES = [1.5, 2, 3, 5, 10, 20, 50, 100];

/**
 * Evidence that the canary's error rate is above `maxErrorRatePercent`, from its own counts
 * alone (so it holds with no baseline, as after a blue/green switch): a mixture of likelihood
 * ratios of Bernoulli requests, rate `q > ceiling` against `ceiling`. For every true rate at or
 * under the ceiling the per-request ratio has expectation at most 1, so the product is a test
 * supermartingale and Ville's inequality bounds the chance of ever tripping by `1/threshold`,
 * however often it is looked at. A 50 % failure trips on a handful of requests; 2 % against a
 * 0.5 % ceiling in a few hundred.
 */
export function ceilingEValue(requests: number, errors: number, ceilingPercent: number): number {
  const p0 = ceilingPercent / 100;
  if (requests <= 0) return 1;
  if (p0 <= 0) return errors > 0 ? Number.POSITIVE_INFINITY : 1;
  if (p0 >= 1) return 0;
  const logs = CEILING_ALTERNATIVES.map((m) => Math.min(0.999, p0 * m))
    .filter((q) => q > p0)
    .map((q) => errors * Math.log(q / p0) + (requests - errors) * Math.log((1 - q) / (1 - p0)));
  if (logs.length === 0) return 1;
  const top = Math.max(...logs);
  const mean = logs.reduce((sum, l) => sum + Math.exp(l - top), 0) / logs.length;
  return Math.exp(top) * mean;
}

/**
 * Judges one interval of a canary against its baseline. Error counts go into the release's
 * running evidence, judged by a sequential test that stays valid however often it looks (see
 * error-judge.ts), and against the absolute error ceiling on the same running counts; the latency
 * ceiling judges the interval alone. Too little traffic is never a pass.
 */
export function judgeInterval(
  canary: AnalysisReading,
  baseline: AnalysisReading | undefined,
  before: ErrorEvidence | undefined,
  thresholds: Thresholds,
  settings: ErrorJudgeSettings,
): { verdict: Verdict; evidence: ErrorEvidence } {
  let evidence = before ?? NO_EVIDENCE;
  const counts = countsOf(canary);
  const baseCounts = baseline ? countsOf(baseline) : null;
  if (counts !== null) {
    evidence = addInterval(evidence, {
      canary: counts,
      baseline: baseCounts ?? { requests: 0, errors: 0 },
    });
  }
  const judged = judgeErrors(evidence, settings);
  const summary = describeEvidence(evidence);
  const overCeiling =
    ceilingEValue(evidence.canaryRequests, evidence.canaryErrors, thresholds.maxErrorRatePercent) >=
    1 / settings.falseFailure;
  const latency = latencyBreaches(canary, thresholds);
  // Canary against baseline latency, as distributions (a rank test and a tail test on the
  // interval's histograms): a slowdown that is significant and matters counts as a breach.
  if (canary.latencyBuckets && baseline?.latencyBuckets) {
    const compared = judgeLatency(canary.latencyBuckets, baseline.latencyBuckets, {
      maxP99Ms: thresholds.maxP99Ms,
      falseFailure: settings.falseFailure,
      minRequests: thresholds.minRequests,
    });
    if (compared.verdict === 'fail') latency.push(compared.evidence);
  }
  if (judged.verdict === 'fail' || overCeiling) {
    const figures = [
      ...(judged.verdict === 'fail' ? [judged.evidence] : []),
      ...(overCeiling
        ? [
            `errors ${evidence.canaryErrors.toLocaleString('en-US')} of ${evidence.canaryRequests.toLocaleString('en-US')} (${pct((100 * evidence.canaryErrors) / evidence.canaryRequests)}): error rate above the ${pct(thresholds.maxErrorRatePercent)} ceiling, strong evidence`,
          ]
        : []),
      ...latency,
    ];
    return { verdict: { verdict: 'fail', figures }, evidence };
  }
  if (latency.length > 0) return { verdict: { verdict: 'breach', figures: latency }, evidence };
  if (counts === null) {
    return {
      verdict: { verdict: 'no_data', figure: 'the source gave no request count for the canary' },
      evidence,
    };
  }
  if (judged.verdict === 'pass') {
    return { verdict: { verdict: 'pass', figures: [judged.evidence || summary] }, evidence };
  }
  return { verdict: { verdict: 'inconclusive', figure: judged.evidence || summary }, evidence };
}

/** Request and error counts of a reading, or null when the source has no request count. */
function countsOf(reading: AnalysisReading): { requests: number; errors: number } | null {
  const requests = reading.requests;
  if (requests === null || !Number.isFinite(requests) || requests < 0) return null;
  const errors =
    reading.errors !== undefined && reading.errors !== null && Number.isFinite(reading.errors)
      ? reading.errors
      : Math.round((reading.errorRatePercent / 100) * requests);
  return { requests, errors: Math.min(Math.max(0, errors), requests) };
}

export function describeReading(reading: AnalysisReading): string {
  // Without a request there is no error rate, and a latency then is an older average (HAProxy's).
  if (reading.requests === 0) return '0 req (no traffic in this interval)';
  const latency =
    reading.latencyMs === null
      ? `${latencyLabel(reading)} n/a`
      : `${latencyLabel(reading)} ${Math.round(reading.latencyMs)} ms`;
  const errors =
    reading.errors !== undefined && reading.errors !== null && reading.requests !== null
      ? `${reading.errors.toLocaleString('en-US')} errors (${pct(reading.errorRatePercent)})`
      : `errors ${pct(reading.errorRatePercent)}`;
  return `${reading.requests === null ? '?' : reading.requests.toLocaleString('en-US')} req · ${errors} · ${latency}`;
}

const isCount = (value: unknown): value is number =>
  typeof value === 'number' && Number.isFinite(value) && value >= 0;

/**
 * The evidence stored with a release, checked: a record written by another version, or damaged
 * (a count missing or negative, errors above requests, groups that do not add up to the totals,
 * a weighted share beyond its errors), starts the evidence afresh rather than skewing the test.
 */
export function readEvidence(stored: unknown): ErrorEvidence {
  if (typeof stored !== 'object' || stored === null) return NO_EVIDENCE;
  const e = stored as Partial<ErrorEvidence>;
  if (
    !isCount(e.intervals) ||
    !isCount(e.canaryRequests) ||
    !isCount(e.canaryErrors) ||
    !isCount(e.baselineRequests) ||
    !isCount(e.baselineErrors) ||
    e.canaryErrors > e.canaryRequests ||
    e.baselineErrors > e.baselineRequests ||
    !Array.isArray(e.groups)
  )
    return NO_EVIDENCE;
  const sums = { canaryRequests: 0, canaryErrors: 0, baselineRequests: 0, baselineErrors: 0 };
  for (const g of e.groups as unknown[]) {
    if (typeof g !== 'object' || g === null) return NO_EVIDENCE;
    const group = g as Partial<ErrorEvidence['groups'][number]>;
    if (
      !isCount(group.sharePercent) ||
      group.sharePercent > 100 ||
      !isCount(group.canaryRequests) ||
      !isCount(group.canaryErrors) ||
      !isCount(group.baselineRequests) ||
      !isCount(group.baselineErrors) ||
      !isCount(group.errorWeightedShare) ||
      group.canaryErrors > group.canaryRequests ||
      group.baselineErrors > group.baselineRequests ||
      group.errorWeightedShare > group.canaryErrors + group.baselineErrors
    )
      return NO_EVIDENCE;
    sums.canaryRequests += group.canaryRequests;
    sums.canaryErrors += group.canaryErrors;
    sums.baselineRequests += group.baselineRequests;
    sums.baselineErrors += group.baselineErrors;
  }
  if (
    sums.canaryRequests > e.canaryRequests ||
    sums.canaryErrors > e.canaryErrors ||
    sums.baselineRequests > e.baselineRequests ||
    sums.baselineErrors > e.baselineErrors
  )
    return NO_EVIDENCE;
  return stored as ErrorEvidence;
}
