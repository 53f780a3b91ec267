/** What one analysis interval saw on a slot. */
export interface AnalysisReading {
  /** Requests in the interval; null when the source cannot count them. */
  readonly requests: number | null;
  readonly errorRatePercent: number;
  /** P99 latency where the source has it, or HAProxy's average response time. */
  readonly latencyMs: number | null;
}

export interface Thresholds {
  readonly maxErrorRatePercent: number;
  readonly maxP99Ms: number;
  readonly minRequests: number;
}

export type Verdict =
  | { readonly verdict: 'pass' }
  | { readonly verdict: 'breach'; readonly figures: readonly string[] }
  | { readonly verdict: 'inconclusive'; readonly figure: string };

const pct = (n: number) => `${Number(n.toFixed(2))} %`;

/** Judges one reading against thresholds; too little traffic is never a pass. */
export function judge(reading: AnalysisReading, thresholds: Thresholds): Verdict {
  if (reading.requests !== null && reading.requests < thresholds.minRequests) {
    return {
      verdict: 'inconclusive',
      figure: `${reading.requests} requests < ${thresholds.minRequests} needed`,
    };
  }
  const figures: string[] = [];
  if (reading.errorRatePercent > thresholds.maxErrorRatePercent) {
    figures.push(
      `error rate ${pct(reading.errorRatePercent)} > ${pct(thresholds.maxErrorRatePercent)}`,
    );
  }
  if (reading.latencyMs !== null && reading.latencyMs > thresholds.maxP99Ms) {
    figures.push(`P99 ${Math.round(reading.latencyMs)} ms > ${thresholds.maxP99Ms} ms`);
  }
  return figures.length > 0 ? { verdict: 'breach', figures } : { verdict: 'pass' };
}

export function describeReading(reading: AnalysisReading): string {
  const latency = reading.latencyMs === null ? 'n/a' : `${Math.round(reading.latencyMs)} ms`;
  return `${reading.requests ?? '?'} req · errors ${pct(reading.errorRatePercent)} · latency ${latency}`;
}
