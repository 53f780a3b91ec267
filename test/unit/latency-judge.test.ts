import { describe, expect, it } from 'vitest';
import {
  type Bucket,
  judgeLatency,
  mannWhitneyGrouped,
  quantileFromBuckets,
} from '../../src/domain/latency-judge.ts';
import { hypergeometricUpperTail, upperNormalTail } from '../../src/domain/tail-probabilities.ts';

const INF = Number.POSITIVE_INFINITY;
const BOUNDS = [0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5, INF];
const SETTINGS = { maxP99Ms: 800, falseFailure: 0.001, minRequests: 100 };

/** Cumulative buckets of a list of latencies (seconds). */
function histogram(latencies: readonly number[], bounds: readonly number[] = BOUNDS): Bucket[] {
  return bounds.map((le) => ({ le, count: latencies.filter((x) => x <= le).length }));
}

/** n deterministic latencies (seconds) from a lognormal: median and spread of the log. */
function lognormal(n: number, median: number, sigma: number): number[] {
  // Inverse normal CDF by bisection on the test's own erf-free approximation: Φ via erfc series.
  const phi = (z: number) =>
    0.5 * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (z + 0.044715 * z ** 3)));
  const inverse = (p: number) => {
    let lo = -10;
    let hi = 10;
    for (let i = 0; i < 80; i += 1) {
      const mid = (lo + hi) / 2;
      if (phi(mid) < p) lo = mid;
      else hi = mid;
    }
    return (lo + hi) / 2;
  };
  return Array.from({ length: n }, (_, i) => median * Math.exp(sigma * inverse((i + 0.5) / n)));
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('quantileFromBuckets', () => {
  const buckets: Bucket[] = [
    { le: 0.1, count: 10 },
    { le: 0.2, count: 30 },
    { le: 0.5, count: 90 },
    { le: 1, count: 100 },
    { le: INF, count: 100 },
  ];

  it.each([
    // rank 50 falls in (0.2, 0.5], 20 of its 60: 0.2 + 0.3 × 20/60
    [0.5, 0.3],
    // rank 99 falls in (0.5, 1], 9 of its 10: 0.5 + 0.5 × 0.9
    [0.99, 0.95],
    // rank 5 falls in the first bucket, which starts at 0: 0.1 × 5/10
    [0.05, 0.05],
    // rank 30 is the top of (0.1, 0.2]
    [0.3, 0.2],
    [0, 0],
  ])('the %f quantile is %f s, as interpolated by hand', (q, expected) => {
    expect(quantileFromBuckets(buckets, q)).toBeCloseTo(expected, 12);
  });

  it('answers the highest finite bound when the rank falls in +Inf', () => {
    expect(
      quantileFromBuckets(
        [
          { le: 0.1, count: 10 },
          { le: INF, count: 20 },
        ],
        0.99,
      ),
    ).toBe(0.1);
  });

  it('sorts its input and ignores unusable buckets', () => {
    const shuffled = [
      buckets[3],
      buckets[0],
      { le: Number.NaN, count: 5 },
      buckets[4],
      buckets[2],
      buckets[1],
    ];
    expect(quantileFromBuckets(shuffled as Bucket[], 0.5)).toBeCloseTo(0.3, 12);
  });

  it.each([
    [
      'no +Inf bucket',
      [
        { le: 0.1, count: 3 },
        { le: 0.2, count: 5 },
      ],
      0.5,
    ],
    [
      'no requests',
      [
        { le: 0.1, count: 0 },
        { le: INF, count: 0 },
      ],
      0.5,
    ],
    ['no buckets', [], 0.5],
    ['q above 1', buckets, 1.5],
    ['q NaN', buckets, Number.NaN],
  ] as const)('is null with %s', (_, input, q) => {
    expect(quantileFromBuckets(input, q)).toBeNull();
  });
});

describe('mannWhitneyGrouped', () => {
  it('agrees with counting pairs and with the mid-rank variance on a small tied sample', () => {
    const canary = [0, 2, 3, 1]; // requests per bucket
    const baseline = [3, 2, 1, 0];
    const xs = canary.flatMap((n, j) => Array<number>(n).fill(j));
    const ys = baseline.flatMap((n, j) => Array<number>(n).fill(j));
    let wins = 0;
    for (const x of xs) for (const y of ys) wins += x > y ? 1 : x === y ? 0.5 : 0;
    // Variance of U from the pooled mid-ranks: n1·n2 / (N(N − 1)) · Σ (r − (N + 1)/2)²
    const pooled = [...xs, ...ys].sort((a, b) => a - b);
    const N = pooled.length;
    const midRank = (v: number) => {
      const first = pooled.indexOf(v) + 1;
      const last = pooled.lastIndexOf(v) + 1;
      return (first + last) / 2;
    };
    const spread = pooled.reduce((s, v) => s + (midRank(v) - (N + 1) / 2) ** 2, 0);
    const variance = ((xs.length * ys.length) / (N * (N - 1))) * spread;
    const z = (wins - (xs.length * ys.length) / 2 - 0.5) / Math.sqrt(variance);

    const result = mannWhitneyGrouped(canary, baseline);
    expect(result?.slowerShare).toBeCloseTo(wins / (xs.length * ys.length), 12);
    expect(result?.pValue).toBeCloseTo(upperNormalTail(z), 9);
  });

  it('knows the normal tail', () => {
    expect(upperNormalTail(0)).toBeCloseTo(0.5, 7);
    expect(upperNormalTail(1.959963985)).toBeCloseTo(0.025, 7);
    expect(upperNormalTail(3.090232306)).toBeCloseTo(0.001, 8);
    expect(upperNormalTail(-1.644853627)).toBeCloseTo(0.95, 7);
  });

  it('knows the hypergeometric tail', () => {
    // 2 draws from 5 with 3 successes: P(X ≥ 2) = C(3,2)·C(2,0) / C(5,2) = 3/10
    expect(hypergeometricUpperTail(5, 3, 2, 2)).toBeCloseTo(0.3, 12);
    expect(hypergeometricUpperTail(5, 3, 2, 0)).toBe(1);
    expect(hypergeometricUpperTail(5, 3, 2, 3)).toBe(0);
  });
});

describe('judgeLatency', () => {
  const baselineLatencies = lognormal(20_000, 0.08, 0.5);

  it('catches a +300 ms tail shift that leaves the mean unchanged', () => {
    // The slowest 2 % get 300 ms slower; the rest get faster by as much in total.
    const cut = Math.floor(baselineLatencies.length * 0.98);
    const bodyFaster = (0.3 * (baselineLatencies.length - cut)) / cut;
    const canaryLatencies = baselineLatencies.map((x, i) => (i >= cut ? x + 0.3 : x - bodyFaster));
    expect(mean(canaryLatencies)).toBeCloseTo(mean(baselineLatencies), 9);

    const result = judgeLatency(histogram(canaryLatencies), histogram(baselineLatencies), SETTINGS);
    expect(result.verdict, result.evidence).toBe('fail');
    expect(result.evidence).toMatch(/^P99 [\d,]+ ms vs baseline [\d,]+ ms \([\d.]+×\)/);
    expect(result.evidence).toContain('of canary requests above');
  });

  it('fails a whole-distribution slowdown, with the figures side by side', () => {
    const slower = baselineLatencies.map((x) => x * 3);
    const result = judgeLatency(
      histogram(slower.filter((_, i) => i % 4 === 0)),
      histogram(baselineLatencies),
      SETTINGS,
    );
    expect(result.verdict, result.evidence).toBe('fail');
    expect(result.evidence).toMatch(
      /^P99 [\d,]+ ms vs baseline [\d,]+ ms \([\d.]+×\), canary slower in \d+ % of pairs, p < 0\.001/,
    );
  });

  it('passes a significant but tiny shift: the P99 is neither above 800 ms nor 1.5× baseline', () => {
    const bit = baselineLatencies.map((x) => x * 1.1);
    const result = judgeLatency(histogram(bit), histogram(baselineLatencies), SETTINGS);
    expect(result.verdict).toBe('pass');
    expect(result.evidence).toContain('slower, but the P99 is within 1.5× baseline and 800 ms');
  });

  it('passes the same distribution', () => {
    const result = judgeLatency(
      histogram(baselineLatencies.filter((_, i) => i % 4 === 0)),
      histogram(baselineLatencies),
      SETTINGS,
    );
    expect(result.verdict).toBe('pass');
    expect(result.evidence).toContain('no evidence of a slowdown');
  });

  it('fails a slower canary above maxP99Ms even when the ratio is small', () => {
    const slowBaseline = baselineLatencies.map((x) => x * 10);
    const canary = slowBaseline.map((x) => x * 1.3);
    const result = judgeLatency(histogram(canary), histogram(slowBaseline), SETTINGS);
    expect(result.verdict, result.evidence).toBe('fail');
  });

  it('extends with fewer than minRequests on either side', () => {
    const result = judgeLatency(
      histogram(baselineLatencies.slice(0, 50)),
      histogram(baselineLatencies),
      SETTINGS,
    );
    expect(result).toEqual({
      verdict: 'extend',
      evidence:
        'not enough requests with latencies yet: canary 50, baseline 20,000, 100 needed on each',
    });
  });

  it('extends without a +Inf bucket', () => {
    const noInf = (xs: readonly number[]) => histogram(xs).filter((b) => b.le !== INF);
    expect(
      judgeLatency(noInf(baselineLatencies), histogram(baselineLatencies), SETTINGS).verdict,
    ).toBe('extend');
  });

  it('compares on the bounds both histograms have', () => {
    const coarse = [0.05, 0.1, 0.25, 0.5, 1, INF];
    const result = judgeLatency(
      histogram(
        baselineLatencies.map((x) => x * 3),
        coarse,
      ),
      histogram(baselineLatencies),
      SETTINGS,
    );
    expect(result.verdict, result.evidence).toBe('fail');
  });
});
