import { describe, expect, it } from 'vitest';
import { describeReading } from '../../../src/domain/analysis.ts';

describe('a reading as the progress reply shows it', () => {
  it('counts, errors and the latency by its kind', () => {
    expect(
      describeReading({
        requests: 1200,
        errors: 5,
        errorRatePercent: 0.42,
        latencyMs: 180.4,
        latencyKind: 'mean',
      }),
    ).toBe('1,200 req · 5 errors (0.42 %) · mean response time 180 ms');
  });

  it('an interval without traffic shows no error rate nor an older average as its own', () => {
    expect(
      describeReading({
        requests: 0,
        errors: 0,
        errorRatePercent: 0,
        latencyMs: 1,
        latencyKind: 'mean',
      }),
    ).toBe('0 req (no traffic in this interval)');
  });
});
