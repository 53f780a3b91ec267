import type { AppDeps } from '../src/app/app-deps.ts';
import type { AnalysisReading } from '../src/domain/analysis.ts';
import type { Release } from '../src/domain/release.ts';
import type { Slot } from '../src/domain/slots.ts';
import { releaseRecord } from './release-fixtures.ts';

/** What the metrics source counts on one slot in one interval (`requests: null`: unknown). */
export type Counts = { requests: number | null; errors: number };
/** The counts per slot and tick a test scripts; an Error is a read that fails. */
export type Script = (slot: Slot, tick: number) => Counts | Error;

/**
 * A metrics port that answers what the script in force (`script()`) counts at `tick()`: the
 * rate worked out from the counts, a 20 ms mean latency, and the tick as the sample, so each
 * interval is a reading of its own.
 */
export function scriptedMetrics(script: () => Script, tick: () => number): AppDeps['metrics'] {
  return {
    read: async (_service, slot) => {
      const counts = script()(slot, tick());
      if (counts instanceof Error) throw counts;
      const reading: AnalysisReading = {
        requests: counts.requests,
        errors: counts.errors,
        errorRatePercent: counts.requests ? (counts.errors / counts.requests) * 100 : 0,
        latencyMs: 20,
        latencyKind: 'mean',
      };
      return { reading, sample: { tick: tick() } };
    },
  };
}

/**
 * api 2.4.1 under analysis since `at`, approved by lead: a canary ramping at the first of
 * `steps`, or a blue/green release observing for ten minutes on green.
 */
export function analysedRelease(
  at: string,
  strategy: Release['strategy'],
  steps: number[],
  changes: Partial<Release> = {},
): Release {
  return releaseRecord(at, {
    strategy,
    state: strategy === 'bluegreen' ? 'observing' : 'ramping',
    releasedAt: at,
    ...(strategy === 'bluegreen'
      ? { observeUntil: new Date(Date.parse(at) + 10 * 60_000).toISOString() }
      : { canary: { steps, stepIndex: 0, stepStartedAt: at } }),
    approvals: [{ role: 'lead', user: 'U0LEAD', at }],
    ...changes,
  });
}
