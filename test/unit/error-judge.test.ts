import { describe, expect, it } from 'vitest';
import {
  addInterval,
  DEFAULT_ERROR_JUDGE,
  describeEvidence,
  type ErrorEvidence,
  errorEValues,
  type IntervalCounts,
  judgeErrors,
  NO_EVIDENCE,
} from '../../src/domain/error-judge.ts';

/** [canary requests, canary errors, baseline requests, baseline errors] per interval. */
type Row = readonly [number, number, number, number];

const interval = ([cr, ce, br, be]: Row): IntervalCounts => ({
  canary: { requests: cr, errors: ce },
  baseline: { requests: br, errors: be },
});

const evidenceOf = (rows: readonly Row[], from: ErrorEvidence = NO_EVIDENCE) =>
  rows.reduce((e, row) => addInterval(e, interval(row)), from);

const judged = (rows: readonly Row[]) => judgeErrors(evidenceOf(rows), DEFAULT_ERROR_JUDGE);

// Oracles computed here, independently of the judge.
function choose(n: number, k: number): number {
  let c = 1;
  for (let i = 0; i < k; i += 1) c = (c * (n - i)) / (i + 1);
  return c;
}
const binomialPmf = (n: number, k: number, p: number) => choose(n, k) * p ** k * (1 - p) ** (n - k);
/** P(X ≥ k) for X ~ Binomial(n, p). */
function binomialUpperTail(n: number, k: number, p: number): number {
  let sum = 0;
  for (let x = k; x <= n; x += 1) sum += binomialPmf(n, x, p);
  return sum;
}

describe('judgeErrors: obvious cases', () => {
  it('fails 20 of 25 errors on a 20 % canary', () => {
    // Under "no worse" each error lands on the canary with probability 0.2 at most.
    expect(binomialUpperTail(25, 20, 0.2)).toBeLessThan(1e-9);
    const result = judged([[200, 20, 800, 5]]);
    expect(result.verdict).toBe('fail');
    expect(result.evidence).toBe(
      'errors 20 of 200 (10 %) vs baseline 5 of 800 (0.63 %): 16× baseline, strong evidence of harm',
    );
  });

  it('passes equal error rates given plenty of data', () => {
    const rows = Array.from({ length: 100 }, (): Row => [2_000, 2, 8_000, 8]);
    const result = judged(rows);
    expect(result.verdict).toBe('pass');
    expect(result.evidence).toContain('1.0× baseline');
    expect(result.evidence).toContain('no meaningful harm (within 2× baseline)');
  });

  it('extends on zero errors in 10 requests and says how many more it needs', () => {
    const result = judged([[10, 0, 40, 0]]);
    expect(result.verdict).toBe('extend');
    if (result.verdict !== 'extend') return;
    expect(result.moreCanaryRequests).toBeGreaterThan(1_000);
    expect(result.evidence).toMatch(/not enough evidence yet: about [\d,]+ more canary requests$/);
  });

  it('cannot pass zero errors in 1,000 canary requests, whatever the weights', () => {
    // Even all prior weight on "no errors at all" gives (1 / (1 − 0.001))^1000 ≈ 2.7 < 1/0.01.
    expect((1 / (1 - 0.001)) ** 1_000).toBeLessThan(1 / DEFAULT_ERROR_JUDGE.falsePass);
    expect(judged([[1_000, 0, 4_000, 0]]).verdict).toBe('extend');
  });

  it('passes zero errors in 100,000 canary requests on the floor rule', () => {
    // A canary at the floor (0.1 %) shows no error in 100,000 requests with chance e^-100.
    expect((1 - 0.001) ** 100_000).toBeLessThan(1e-40);
    const result = judged([[100_000, 0, 400_000, 0]]);
    expect(result.verdict).toBe('pass');
    expect(result.evidence).toContain('canary errors below 0.1 %');
  });

  it('fails 0.4 % against 0.01 % and never passes on the way', () => {
    let evidence = NO_EVIDENCE;
    const verdicts: string[] = [];
    for (let i = 0; i < 200 && verdicts.at(-1) !== 'fail'; i += 1) {
      // canary: 2 errors per 500 requests; baseline: 1 error per 10,000 requests
      evidence = addInterval(evidence, interval([500, 2, 2_000, i % 5 === 4 ? 1 : 0]));
      verdicts.push(judgeErrors(evidence, DEFAULT_ERROR_JUDGE).verdict);
    }
    expect(verdicts).not.toContain('pass');
    expect(verdicts.at(-1)).toBe('fail');
  });

  it('never passes on zero canary requests, however lax the settings', () => {
    const lax = { ...DEFAULT_ERROR_JUDGE, falsePass: 0.99 };
    const evidence = evidenceOf([
      [0, 0, 50_000, 0],
      [0, 0, 50_000, 3],
    ]);
    expect(judgeErrors(evidence, lax)).toEqual({
      verdict: 'extend',
      evidence: 'no canary requests yet',
      moreCanaryRequests: null,
    });
  });
});

describe('judgeErrors: the fail test is valid', () => {
  const share = 0.2;
  // One interval with K errors between a canary of 1,000 and a baseline of 4,000 requests.
  const single = (canaryErrors: number, baselineErrors: number) =>
    evidenceOf([[1_000, canaryErrors, 4_000, baselineErrors]]);

  it.each([5, 10, 25, 40])(
    'with %i errors it fails only where the exact binomial tail is below falseFailure',
    (errors) => {
      let failedAny = false;
      for (let c = 0; c <= errors; c += 1) {
        const verdict = judgeErrors(single(c, errors - c), DEFAULT_ERROR_JUDGE).verdict;
        if (verdict === 'fail') {
          failedAny = true;
          expect(binomialUpperTail(errors, c, share)).toBeLessThanOrEqual(
            DEFAULT_ERROR_JUDGE.falseFailure,
          );
        }
      }
      // With 25 or 40 errors all on the canary, the evidence is overwhelming: it must fail.
      if (errors >= 25) expect(failedAny).toBe(true);
    },
  );

  it.each([
    [10, 1, 1],
    [10, 0.5, 1],
    [30, 1, 1],
    [30, 0.25, 1],
  ])(
    'the harm e-value has expectation ≤ 1 under the null (%i errors, true ratio %f)',
    (errors, ratio) => {
      const p = (ratio * share) / (ratio * share + 1 - share);
      let expectation = 0;
      for (let c = 0; c <= errors; c += 1) {
        expectation +=
          binomialPmf(errors, c, p) * errorEValues(single(c, errors - c), DEFAULT_ERROR_JUDGE).harm;
      }
      expect(expectation).toBeLessThanOrEqual(1 + 1e-9);
      if (ratio === 1) expect(expectation).toBeCloseTo(1, 9);
    },
  );

  it('the tolerance e-value has expectation 1 when the canary is exactly 2× worse', () => {
    const p = (2 * share) / (2 * share + 1 - share);
    let expectation = 0;
    for (let c = 0; c <= 30; c += 1) {
      expectation +=
        binomialPmf(30, c, p) *
        errorEValues(single(c, 30 - c), DEFAULT_ERROR_JUDGE).withinTolerance;
    }
    expect(expectation).toBeCloseTo(1, 9);
  });

  it('does not fail equal rates while the canary weight changes from 5 % to 50 %', () => {
    const rows: Row[] = [];
    for (let i = 0; i < 300; i += 1) {
      const canary = i < 100 ? 500 : i < 200 ? 2_000 : 5_000;
      rows.push([canary, canary / 500, 10_000 - canary, (10_000 - canary) / 500]);
    }
    let evidence = NO_EVIDENCE;
    for (const row of rows) {
      evidence = addInterval(evidence, interval(row));
      expect(judgeErrors(evidence, DEFAULT_ERROR_JUDGE).verdict).not.toBe('fail');
    }
    expect(judgeErrors(evidence, DEFAULT_ERROR_JUDGE).verdict).toBe('pass');
  });

  it('does not fail a canary whose error rate is under the floor, whatever the ratio', () => {
    // 0.05 % against a baseline with almost no errors: 50× but below 0.1 %.
    const rows = Array.from({ length: 50 }, (): Row => [20_000, 10, 80_000, 0]);
    expect(judged(rows).verdict).not.toBe('fail');
  });
});

describe('judgeErrors: guards', () => {
  it('skips NaN, negative, infinite and zero-request intervals', () => {
    const evidence = evidenceOf([[1_000, 3, 4_000, 4]]);
    for (const bad of [
      [Number.NaN, 0, 4_000, 4],
      [1_000, Number.NaN, 4_000, 4],
      [1_000, 3, Number.NaN, 4],
      [1_000, 3, 4_000, Number.NaN],
      [-5, 0, 4_000, 4],
      [1_000, -1, 4_000, 4],
      [Number.POSITIVE_INFINITY, 0, 4_000, 4],
      [0, 0, 4_000, 4],
    ] as const) {
      expect(addInterval(evidence, interval(bad))).toEqual(evidence);
    }
  });

  it('caps errors at the requests', () => {
    const evidence = evidenceOf([[10, 50, 40, 0]]);
    expect(evidence.canaryErrors).toBe(10);
  });

  it('keeps the evidence bounded after 10,000 intervals of varying weights', () => {
    let evidence = NO_EVIDENCE;
    let canaryRequests = 0;
    for (let i = 0; i < 10_000; i += 1) {
      const canary = 1 + ((i * 7919) % 997); // shares from about 0.1 % to 99.9 %
      evidence = addInterval(evidence, interval([canary, i % 3, 1_000 - canary + 1, i % 2]));
      canaryRequests += canary;
    }
    expect(evidence.intervals).toBe(10_000);
    expect(evidence.canaryRequests).toBe(canaryRequests);
    expect(evidence.groups.length).toBeLessThanOrEqual(101);
    expect(JSON.stringify(evidence).length).toBeLessThan(20_000);
    expect(JSON.parse(JSON.stringify(evidence))).toEqual(evidence);
    expect(evidence.groups.map((g) => g.sharePercent)).toEqual(
      [...evidence.groups.map((g) => g.sharePercent)].sort((a, b) => a - b),
    );
  });

  it('without baseline traffic never fails, and passes only on the canary’s own rate', () => {
    const many = Array.from({ length: 20 }, (): Row => [1_000, 100, 0, 0]);
    const bad = judged(many);
    expect(bad.verdict).toBe('extend');
    expect(bad.evidence).toBe(
      "errors 2,000 of 20,000 (10 %), no baseline traffic to compare with, not enough evidence yet: the canary's errors are not clearly below 0.1 %",
    );
    expect(judged([[200_000, 0, 0, 0]]).verdict).toBe('pass');
  });

  it('says "baseline had no errors" instead of a ratio', () => {
    expect(describeEvidence(evidenceOf([[1_000, 4, 4_000, 0]]))).toBe(
      'errors 4 of 1,000 (0.4 %) vs baseline 0 of 4,000 (0 %): baseline had no errors',
    );
  });
});

describe('describeEvidence', () => {
  it.each([
    [
      [[1_840, 12, 7_360, 3]],
      'errors 12 of 1,840 (0.65 %) vs baseline 3 of 7,360 (0.04 %): 16× baseline',
    ],
    [
      [[1_000, 0, 4_000, 0]],
      'errors 0 of 1,000 (0 %) vs baseline 0 of 4,000 (0 %): no errors on either',
    ],
    [
      [[1_000, 0, 4_000, 8]],
      'errors 0 of 1,000 (0 %) vs baseline 8 of 4,000 (0.2 %): no canary errors',
    ],
    [
      [[100_000, 3, 400_000, 40]],
      'errors 3 of 100,000 (0.003 %) vs baseline 40 of 400,000 (0.01 %): 0.30× baseline',
    ],
    [[], 'no canary requests yet'],
  ] as const)('%j reads "%s"', (rows, text) => {
    expect(describeEvidence(evidenceOf(rows))).toBe(text);
  });
});

describe('moreCanaryRequests', () => {
  it('is about what it takes: that many more at the same rates passes, 20 % fewer does not', () => {
    const start = evidenceOf([[10, 0, 40, 0]]);
    const first = judgeErrors(start, DEFAULT_ERROR_JUDGE);
    if (first.verdict !== 'extend' || first.moreCanaryRequests === null) {
      throw new Error('expected an estimate');
    }
    const more = first.moreCanaryRequests;
    const verdictAfter = (n: number) =>
      judgeErrors(addInterval(start, interval([n, 0, 4 * n, 0])), DEFAULT_ERROR_JUDGE).verdict;
    expect(verdictAfter(more)).toBe('pass');
    expect(verdictAfter(Math.floor(more * 0.8))).toBe('extend');
  });

  it('estimates the ratio route for equal rates', () => {
    const start = evidenceOf(Array.from({ length: 10 }, (): Row => [2_000, 2, 8_000, 8]));
    const first = judgeErrors(start, DEFAULT_ERROR_JUDGE);
    if (first.verdict !== 'extend' || first.moreCanaryRequests === null) {
      throw new Error('expected an estimate');
    }
    const more = first.moreCanaryRequests;
    const verdictAfter = (n: number) =>
      judgeErrors(
        addInterval(start, interval([n, n / 1_000, 4 * n, (4 * n) / 1_000])),
        DEFAULT_ERROR_JUDGE,
      ).verdict;
    expect(verdictAfter(more * 1.01)).toBe('pass');
    expect(verdictAfter(more * 0.8)).toBe('extend');
  });

  it('is null when the canary looks worse than the tolerance', () => {
    const result = judged([[240, 1, 960, 1]]);
    expect(result).toEqual({
      verdict: 'extend',
      evidence:
        'errors 1 of 240 (0.42 %) vs baseline 1 of 960 (0.1 %): 4.0× baseline, not enough evidence yet: errors look worse than the baseline, not conclusively',
      moreCanaryRequests: null,
    });
  });
});
