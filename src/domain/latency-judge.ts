/**
 * The canary's latency judge, on histograms: Prometheus-style cumulative buckets
 * (`le` in seconds, `+Inf` last) of one interval for each slot.
 *
 * Two tests, each at half of `falseFailure` (Bonferroni, so together at most `falseFailure`):
 * - **Mann-Whitney U** on the grouped data, with the tie correction for grouped data, as
 *   Kayenta does: is a canary request slower than a baseline request more often than not? It
 *   sees a shift of the whole distribution; it barely sees the tail, since the slowest 1 % of
 *   the canary can only win the pairs it makes with the slowest baseline requests.
 * - **Tail**: of the requests above the pooled P99 (from the highest bucket bound at or below
 *   it, so at least 1 % of all requests), how many are the canary's? Given the pooled histogram, under "same distribution" every split
 *   of those requests between the slots is equally likely, so the canary's count is
 *   hypergeometric and its exact upper tail is the p-value. The boundary comes from the pooled
 *   data, not the baseline's alone, which would favour finding the canary slower.
 * A statistically significant slowdown fails the canary only if it matters: its P99 above
 * `maxP99Ms` or above 1.5× the baseline's. P99s are interpolated within buckets as PromQL's
 * `histogram_quantile` does.
 */

import { englishNumber } from './number-format.ts';
import { hypergeometricUpperTail, upperNormalTail } from './tail-probabilities.ts';

/** One cumulative bucket: requests that took at most `le` seconds (`Infinity` for all). */
export interface Bucket {
  readonly le: number;
  readonly count: number;
}

export interface LatencySettings {
  /** A canary P99 above this (milliseconds) matters whatever the baseline's. */
  readonly maxP99Ms: number;
  /** Chance of failing a canary whose latency is no different from its baseline's. */
  readonly falseFailure: number;
  /** Fewer requests than this on either slot: too early to judge. */
  readonly minRequests: number;
}

export interface LatencyJudgement {
  readonly verdict: 'fail' | 'pass' | 'extend';
  readonly evidence: string;
}

const INFINITY = Number.POSITIVE_INFINITY;

/** A canary P99 above this multiple of the baseline's matters. */
export const MATTERING_P99_RATIO = 1.5;

/** Sorted by `le`, one bucket per bound, counts made monotone; unusable buckets dropped. */
function normalise(buckets: readonly Bucket[]): Bucket[] {
  const byBound = new Map<number, number>();
  for (const { le, count } of buckets) {
    if (Number.isNaN(le) || !Number.isFinite(count) || count < 0) continue;
    byBound.set(le, Math.max(byBound.get(le) ?? 0, count));
  }
  let highest = 0;
  return [...byBound]
    .sort(([a], [b]) => a - b)
    .map(([le, count]) => {
      highest = Math.max(highest, count);
      return { le, count: highest };
    });
}

/**
 * The `q`-quantile (0–1) in seconds, as PromQL's `histogram_quantile`: linear interpolation
 * within the bucket the rank falls in, the lowest bucket starting at 0, and the highest finite
 * bound when the rank falls in `+Inf`. Null when there is no `+Inf` bucket, no request, fewer
 * than two buckets or `q` is outside 0–1.
 */
export function quantileFromBuckets(buckets: readonly Bucket[], q: number): number | null {
  if (!(q >= 0 && q <= 1)) return null;
  const sorted = normalise(buckets);
  const last = sorted.at(-1);
  if (sorted.length < 2 || last === undefined || last.le !== Number.POSITIVE_INFINITY) return null;
  const observations = last.count;
  if (observations === 0) return null;
  let rank = q * observations;
  const b = sorted.findIndex((bucket) => bucket.count >= rank);
  if (b === sorted.length - 1) return sorted[sorted.length - 2]?.le ?? null;
  const bucket = sorted[b];
  if (bucket === undefined) return null;
  if (b === 0 && bucket.le <= 0) return bucket.le;
  let start = 0;
  let count = bucket.count;
  const previous = b > 0 ? sorted[b - 1] : undefined;
  if (previous !== undefined) {
    start = previous.le;
    count -= previous.count;
    rank -= previous.count;
  }
  return count === 0 ? start : start + (bucket.le - start) * (rank / count);
}

/** Requests per bucket on bounds both histograms have (each one's cumulative count is exact there). */
function commonCounts(
  canary: readonly Bucket[],
  baseline: readonly Bucket[],
): { bounds: number[]; canary: number[]; baseline: number[] } {
  const baselineAt = new Map(baseline.map((b) => [b.le, b.count]));
  const bounds: number[] = [];
  const c: number[] = [];
  const b: number[] = [];
  let previousC = 0;
  let previousB = 0;
  for (const bucket of canary) {
    const other = baselineAt.get(bucket.le);
    if (other === undefined) continue;
    bounds.push(bucket.le);
    c.push(bucket.count - previousC);
    b.push(other - previousB);
    previousC = bucket.count;
    previousB = other;
  }
  return { bounds, canary: c, baseline: b };
}

export interface MannWhitney {
  /** Share of (canary, baseline) pairs in which the canary request is slower, ties counting half. */
  readonly slowerShare: number;
  /** One-sided p-value for "the canary is slower", normal approximation with tie correction. */
  readonly pValue: number;
}

/** Mann-Whitney U on grouped data: requests per bucket, same buckets on both sides. */
export function mannWhitneyGrouped(
  canary: readonly number[],
  baseline: readonly number[],
): MannWhitney | null {
  const nc = canary.reduce((a, b) => a + b, 0);
  const nb = baseline.reduce((a, b) => a + b, 0);
  const n = nc + nb;
  if (nc <= 0 || nb <= 0) return null;
  let u = 0;
  let below = 0;
  let ties = 0;
  for (let j = 0; j < canary.length; j += 1) {
    const c = canary[j] ?? 0;
    const b = baseline[j] ?? 0;
    u += c * (below + b / 2);
    below += b;
    const t = c + b;
    ties += t * t * t - t;
  }
  const variance = ((nc * nb) / 12) * (n + 1 - ties / (n * (n - 1)));
  const mean = (nc * nb) / 2;
  const pValue = variance > 0 ? upperNormalTail((u - mean - 0.5) / Math.sqrt(variance)) : 1;
  return { slowerShare: u / (nc * nb), pValue: Math.min(1, pValue) };
}

export interface TailTest {
  /** Bound (seconds) the tail starts above: the highest common bound at or below the pooled P99. */
  readonly above: number;
  readonly canaryShare: number;
  readonly baselineShare: number;
  /** Exact hypergeometric upper tail of the canary's count above the bound. */
  readonly pValue: number;
}

function tailTest(
  bounds: readonly number[],
  canary: readonly number[],
  baseline: readonly number[],
): TailTest | null {
  const pooled: Bucket[] = [];
  let cumulative = 0;
  for (let j = 0; j < bounds.length; j += 1) {
    cumulative += (canary[j] ?? 0) + (baseline[j] ?? 0);
    pooled.push({ le: bounds[j] ?? Number.POSITIVE_INFINITY, count: cumulative });
  }
  const p99 = quantileFromBuckets(pooled, 0.99);
  if (p99 === null) return null;
  // The highest bound at or below the pooled P99: at least 1 % of all requests lie above it.
  let j = -1;
  for (let i = 0; i < bounds.length; i += 1) if ((bounds[i] ?? INFINITY) <= p99) j = i;
  const above = bounds[j];
  if (j < 0 || above === undefined || above === INFINITY) return null;
  const sum = (xs: readonly number[], from: number) => xs.slice(from).reduce((a, b) => a + b, 0);
  const nc = sum(canary, 0);
  const nb = sum(baseline, 0);
  const xc = sum(canary, j + 1);
  const xb = sum(baseline, j + 1);
  return {
    above,
    canaryShare: xc / nc,
    baselineShare: xb / nb,
    pValue: hypergeometricUpperTail(nc + nb, nc, xc + xb, xc),
  };
}

const ms = (seconds: number) => `${englishNumber(Math.round(seconds * 1000))} ms`;
const pText = (p: number) => (p < 0.001 ? 'p < 0.001' : `p = ${Number(p.toPrecision(2))}`);
const sharePercent = (x: number) => `${Number((100 * x).toFixed(1))} %`;

/**
 * Judges the canary's latency against its baseline's over the same interval: fail on a
 * significant slowdown that matters, pass on enough requests without one, extend otherwise.
 */
export function judgeLatency(
  canary: readonly Bucket[],
  baseline: readonly Bucket[],
  settings: LatencySettings,
): LatencyJudgement {
  const c = normalise(canary);
  const b = normalise(baseline);
  const canaryRequests = c.at(-1)?.le === Number.POSITIVE_INFINITY ? (c.at(-1)?.count ?? 0) : 0;
  const baselineRequests = b.at(-1)?.le === Number.POSITIVE_INFINITY ? (b.at(-1)?.count ?? 0) : 0;
  const needed = Math.max(1, settings.minRequests);
  if (canaryRequests < needed || baselineRequests < needed) {
    return {
      verdict: 'extend',
      evidence: `not enough requests with latencies yet: canary ${englishNumber(canaryRequests)}, baseline ${englishNumber(baselineRequests)}, ${englishNumber(needed)} needed on each`,
    };
  }
  const canaryP99 = quantileFromBuckets(c, 0.99);
  const baselineP99 = quantileFromBuckets(b, 0.99);
  const common = commonCounts(c, b);
  const mw = mannWhitneyGrouped(common.canary, common.baseline);
  if (canaryP99 === null || baselineP99 === null || mw === null) {
    return {
      verdict: 'extend',
      evidence: 'no usable latency histogram (buckets up to +Inf needed)',
    };
  }
  const ratio = baselineP99 > 0 ? canaryP99 / baselineP99 : null;
  const ratioText = ratio === null ? '' : ` (${ratio.toFixed(1)}×)`;
  const each = settings.falseFailure / 2;
  const tail = tailTest(common.bounds, common.canary, common.baseline);
  let figures = `P99 ${ms(canaryP99)} vs baseline ${ms(baselineP99)}${ratioText}, canary slower in ${Math.round(100 * mw.slowerShare)} % of pairs, ${pText(mw.pValue)}`;
  const tailSlower = tail !== null && tail.pValue < each;
  if (tail !== null && tailSlower) {
    figures += `; ${sharePercent(tail.canaryShare)} of canary requests above ${ms(tail.above)} vs ${sharePercent(tail.baselineShare)} of baseline's, ${pText(tail.pValue)}`;
  }
  const slower = mw.pValue < each || tailSlower;
  const matters =
    canaryP99 * 1000 > settings.maxP99Ms || canaryP99 > MATTERING_P99_RATIO * baselineP99;
  if (slower && matters)
    return { verdict: 'fail', evidence: `${figures}: strong evidence of a slowdown` };
  if (slower) {
    return {
      verdict: 'pass',
      evidence: `${figures}: slower, but the P99 is within ${MATTERING_P99_RATIO}× baseline and ${englishNumber(settings.maxP99Ms)} ms`,
    };
  }
  return { verdict: 'pass', evidence: `${figures}: no evidence of a slowdown` };
}
