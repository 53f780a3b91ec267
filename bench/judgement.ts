/**
 * Canary judgement, simulated: seeded traffic through the real sequential error judge
 * (`addInterval` + `judgeErrors`) and, in the same runs on the same counts, the fixed-threshold
 * rule it replaces (`judge` with the schema's defaults: error rate ceiling 0.5 %, 50 requests
 * at least, rollback after 2 breaches in a row). Intervals are 60 s; requests arrive as Poisson
 * counts and each fails independently (or in the bursts a scenario adds).
 *
 * Run with `npm run bench:judgement` (no services needed). `BENCH_SEED`, `BENCH_RUNS`.
 */
import { judgeInterval, type Thresholds } from '../src/domain/analysis.ts';

/**
 * The fixed-threshold rule Greenlight used before the sequential test, as the baseline: one
 * interval's canary error rate against the ceiling, fewer than minRequests inconclusive.
 */
function judge(
  reading: { requests: number; errorRatePercent: number },
  thresholds: Thresholds,
): { verdict: 'pass' | 'breach' | 'inconclusive' } {
  if (reading.requests < thresholds.minRequests) return { verdict: 'inconclusive' };
  return { verdict: reading.errorRatePercent > thresholds.maxErrorRatePercent ? 'breach' : 'pass' };
}

import {
  addInterval,
  DEFAULT_ERROR_JUDGE,
  type ErrorEvidence,
  type ErrorJudgeSettings,
  judgeErrors,
  NO_EVIDENCE,
} from '../src/domain/error-judge.ts';

const SEED = Number(process.env.BENCH_SEED ?? 20261126);
const RUNS = Number(process.env.BENCH_RUNS ?? 1000);
const INTERVAL_SECONDS = 60;
const WINDOW = 30; // intervals watched for false rollbacks and low traffic
const HORIZON = 720; // intervals (12 h) a healthy canary is followed to its verdict
const FIXED: Thresholds = { maxErrorRatePercent: 0.5, maxP99Ms: 800, minRequests: 50 };
const FIXED_BREACHES = 2;

/** mulberry32: small, fast, seeded; good enough for simulation. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Rng = () => number;

function gaussian(rng: Rng): number {
  const u = 1 - rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}

/** Poisson: Knuth's product method for small means, the normal approximation for large ones. */
function poisson(rng: Rng, mean: number): number {
  if (mean > 50) return Math.max(0, Math.round(mean + Math.sqrt(mean) * gaussian(rng)));
  const limit = Math.exp(-mean);
  let k = 0;
  let p = rng();
  while (p > limit) {
    k += 1;
    p *= rng();
  }
  return k;
}

/** Binomial by geometric skips between successes: exact, O(n·p + 1). */
function binomial(rng: Rng, n: number, p: number): number {
  if (p <= 0 || n <= 0) return 0;
  if (p >= 1) return n;
  const logQ = Math.log(1 - p);
  let k = 0;
  let position = Math.floor(Math.log(1 - rng()) / logQ);
  while (position < n) {
    k += 1;
    position += Math.floor(Math.log(1 - rng()) / logQ) + 1;
  }
  return k;
}

interface Scenario {
  readonly requestsPerSecond: number;
  readonly canaryShare: number;
  /** Error probability of each slot in interval `i` (0-based); `phase` is per run. */
  readonly canaryError: (i: number, phase: number) => number;
  readonly baselineError: (i: number, phase: number) => number;
  readonly intervals: number;
  /** The sequential judge's settings; the defaults unless a row says otherwise. */
  readonly settings?: ErrorJudgeSettings;
}

interface Outcome {
  /** Interval (1-based) at which the sequential judge failed or passed the canary; null: neither. */
  readonly failAt: number | null;
  readonly passAt: number | null;
  /** Interval at which the fixed rule rolled back (within its window); null: never. */
  readonly fixedRollbackAt: number | null;
  /** Intervals at which the fixed rule said inconclusive, within its window. */
  readonly fixedInconclusive: number;
  /**
   * Interval at which Greenlight as shipped rolled back (`judgeInterval`: the comparison, plus
   * the error ceiling on the running counts), within the window; null: never.
   */
  readonly shippedFailAt: number | null;
}

function simulate(s: Scenario, rng: Rng): Outcome {
  const phase = Math.floor(rng() * 10);
  let evidence: ErrorEvidence = NO_EVIDENCE;
  let failAt: number | null = null;
  let passAt: number | null = null;
  let fixedRollbackAt: number | null = null;
  let fixedInconclusive = 0;
  let streak = 0;
  let shipped: ErrorEvidence = NO_EVIDENCE;
  let shippedFailAt: number | null = null;
  const perInterval = s.requestsPerSecond * INTERVAL_SECONDS;
  for (let i = 0; i < s.intervals; i += 1) {
    const canaryRequests = poisson(rng, perInterval * s.canaryShare);
    const baselineRequests = poisson(rng, perInterval * (1 - s.canaryShare));
    const canaryErrors = binomial(rng, canaryRequests, s.canaryError(i, phase));
    const baselineErrors = binomial(rng, baselineRequests, s.baselineError(i, phase));
    if (failAt === null && passAt === null) {
      evidence = addInterval(evidence, {
        canary: { requests: canaryRequests, errors: canaryErrors },
        baseline: { requests: baselineRequests, errors: baselineErrors },
      });
      const verdict = judgeErrors(evidence, s.settings ?? DEFAULT_ERROR_JUDGE).verdict;
      if (verdict === 'fail') failAt = i + 1;
      if (verdict === 'pass') passAt = i + 1;
    }
    if (shippedFailAt === null && i < WINDOW) {
      const reading = (requests: number, errors: number) => ({
        requests,
        errors,
        errorRatePercent: requests > 0 ? (100 * errors) / requests : 0,
        latencyMs: null,
      });
      const judged = judgeInterval(
        reading(canaryRequests, canaryErrors),
        reading(baselineRequests, baselineErrors),
        shipped,
        FIXED,
        s.settings ?? DEFAULT_ERROR_JUDGE,
      );
      shipped = judged.evidence;
      if (judged.verdict.verdict === 'fail') shippedFailAt = i + 1;
    }
    if (fixedRollbackAt === null && i < WINDOW) {
      const fixed = judge(
        {
          requests: canaryRequests,
          errorRatePercent: canaryRequests > 0 ? (100 * canaryErrors) / canaryRequests : 0,
        },
        FIXED,
      );
      if (fixed.verdict === 'inconclusive') fixedInconclusive += 1;
      streak = fixed.verdict === 'breach' ? streak + 1 : 0;
      if (streak >= FIXED_BREACHES) fixedRollbackAt = i + 1;
    }
    const judged = failAt !== null || passAt !== null;
    if (
      judged &&
      (fixedRollbackAt !== null || i + 1 >= WINDOW) &&
      (shippedFailAt !== null || i + 1 >= WINDOW)
    )
      break;
  }
  return { failAt, passAt, fixedRollbackAt, fixedInconclusive, shippedFailAt };
}

function runMany(s: Scenario, rng: Rng): Outcome[] {
  return Array.from({ length: RUNS }, () => simulate(s, rng));
}

const share = (outcomes: readonly Outcome[], test: (o: Outcome) => boolean) =>
  outcomes.filter(test).length / outcomes.length;

function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? null;
}

const percent = (x: number) => `${(100 * x).toFixed(1)} %`;
/** "3 of 1,000 (0.3 %)": small shares need the count. */
const ofRuns = (x: number) =>
  `${Math.round(x * RUNS).toLocaleString('en-US')} of ${RUNS.toLocaleString('en-US')} (${(100 * x).toFixed(2)} %)`;
const intervalsText = (n: number | null) =>
  n === null ? 'none' : `${n} int. (${((n * INTERVAL_SECONDS) / 60).toFixed(0)} min)`;

const steady = (rate: number) => () => rate;
/** One interval in ten (at a random phase per run) the slot's error rate is `burst`. */
const bursty = (rate: number, burst: number) => (i: number, phase: number) =>
  i % 10 === phase ? burst : rate;

function poissonPmf(mean: number, k: number): number {
  let p = Math.exp(-mean);
  for (let i = 1; i <= k; i += 1) p *= mean / i;
  return p;
}

/**
 * The ceiling for any valid test of "canary no worse than baseline" at `alpha`: the exact
 * conditional (binomial) test, fixed-sample, looking once after exactly `intervals` intervals
 * at the nominal share, by enumeration of the Poisson error counts. A test allowed to look at
 * every interval, as the judge is, cannot do better.
 */
function conditionalTestPower(
  canaryErrorsMean: number,
  baselineErrorsMean: number,
  share: number,
  alpha: number,
): number {
  const upperTail = (n: number, k: number) => {
    let sum = 0;
    let term = share ** n; // P(X = n)
    for (let x = n; x >= k; x -= 1) {
      sum += term;
      term *= (x / (n - x + 1)) * ((1 - share) / share);
    }
    return sum;
  };
  let power = 0;
  for (let c = 1; c < 80; c += 1) {
    for (let b = 0; b < 40; b += 1) {
      if (upperTail(c + b, c) <= alpha) {
        power += poissonPmf(canaryErrorsMean, c) * poissonPmf(baselineErrorsMean, b);
      }
    }
  }
  return power;
}

function main(): void {
  const started = performance.now();
  const rng = mulberry32(SEED);
  const at20 = { requestsPerSecond: 20, canaryShare: 0.2 };
  const looser: ErrorJudgeSettings = { ...DEFAULT_ERROR_JUDGE, falseFailure: 0.01 };

  const regressionScenario: Scenario = {
    ...at20,
    canaryError: steady(0.02),
    baselineError: steady(0.001),
    intervals: WINDOW,
  };
  const healthyScenario: Scenario = {
    ...at20,
    canaryError: steady(0.001),
    baselineError: steady(0.001),
    intervals: HORIZON,
  };
  const regression = runMany(regressionScenario, rng);
  const healthy = runMany(healthyScenario, rng);
  const burstyBaseline = runMany(
    { ...at20, canaryError: steady(0.001), baselineError: bursty(0.001, 0.02), intervals: WINDOW },
    rng,
  );
  const sharedBursts = runMany(
    {
      ...at20,
      canaryError: bursty(0.001, 0.02),
      baselineError: bursty(0.001, 0.02),
      intervals: WINDOW,
    },
    rng,
  );
  const busyHealthy = runMany({ ...healthyScenario, requestsPerSecond: 200 }, rng);
  const lowTraffic = runMany(
    { ...healthyScenario, requestsPerSecond: 0.2, intervals: WINDOW },
    rng,
  );
  const lowTrafficRegression = runMany(
    { ...regressionScenario, requestsPerSecond: 0.2, intervals: WINDOW },
    rng,
  );
  const looserRegression = runMany({ ...regressionScenario, settings: looser }, rng);
  const looserHealthy = runMany({ ...healthyScenario, intervals: WINDOW, settings: looser }, rng);

  const failedBy = (n: number) => (o: Outcome) => o.failAt !== null && o.failAt <= n;
  const fixedBy = (n: number) => (o: Outcome) =>
    o.fixedRollbackAt !== null && o.fixedRollbackAt <= n;
  const shippedBy = (n: number) => (o: Outcome) => o.shippedFailAt !== null && o.shippedFailAt <= n;
  const detected = share(regression, failedBy(2));
  const fixedDetected = share(regression, fixedBy(2));
  const falseSteady = share(healthy, failedBy(WINDOW));
  const falseBursty = share(burstyBaseline, failedBy(WINDOW));
  const falseShared = share(sharedBursts, failedBy(WINDOW));
  const fixedFalse = (xs: readonly Outcome[]) => share(xs, fixedBy(WINDOW));
  const failTimes = (xs: readonly Outcome[]) =>
    xs.flatMap((o) => (o.failAt === null ? [] : [o.failAt]));
  const passTimes = (xs: readonly Outcome[]) =>
    xs.flatMap((o) => (o.passAt === null ? [] : [o.passAt]));
  const regressionMedian = median(failTimes(regression));
  const fixedRegressionMedian = median(
    regression.flatMap((o) => (o.fixedRollbackAt === null ? [] : [o.fixedRollbackAt])),
  );
  const healthyMedian = median(passTimes(healthy));
  const inconclusive = share(lowTraffic, (o) => o.passAt === null && o.failAt === null);
  const lowRegressionNotPassed = share(lowTrafficRegression, (o) => o.passAt === null);
  const fixedAlwaysInconclusive = (xs: readonly Outcome[]) =>
    share(xs, (o) => o.fixedInconclusive === WINDOW);
  const perInterval = 20 * INTERVAL_SECONDS;
  const ceiling = conditionalTestPower(
    2 * perInterval * 0.2 * 0.02,
    2 * perInterval * 0.8 * 0.001,
    0.2,
    DEFAULT_ERROR_JUDGE.falseFailure,
  );

  const mark = (ok: boolean) => (ok ? 'met' : 'NOT met');
  const header = ['figure', 'sequential judge', 'fixed threshold (same runs)', 'goal', ''];
  const rows: string[][] = [
    [
      'regression 2 % vs 0.1 %, 20 % weight, 20 req/s: failed within 2 intervals',
      percent(detected),
      percent(fixedDetected),
      '≥ 99 %',
      mark(detected >= 0.99),
    ],
    [
      '  as shipped (comparison, or the 0.5 % error ceiling on running counts)',
      percent(share(regression, shippedBy(2))),
      '',
      '',
      '',
    ],
    [
      '  same, within 3 intervals',
      percent(share(regression, failedBy(3))),
      percent(share(regression, fixedBy(3))),
      '',
      '',
    ],
    [
      '  ceiling for any valid test at falseFailure 0.001, one look after 2 intervals',
      percent(ceiling),
      '',
      '',
      '',
    ],
    [
      `healthy 0.1 % both, steady: false rollbacks in ${WINDOW} intervals`,
      ofRuns(falseSteady),
      ofRuns(fixedFalse(healthy)),
      '≤ 0.1 %',
      mark(falseSteady <= 0.001),
    ],
    [
      `healthy, baseline 2 % one interval in ten: false rollbacks in ${WINDOW}`,
      ofRuns(falseBursty),
      ofRuns(fixedFalse(burstyBaseline)),
      '≤ 0.1 %',
      mark(falseBursty <= 0.001),
    ],
    [
      `healthy, both slots 2 % one interval in ten: false rollbacks in ${WINDOW}`,
      ofRuns(falseShared),
      ofRuns(fixedFalse(sharedBursts)),
      '≤ 0.1 %',
      mark(falseShared <= 0.001),
    ],
    [
      `as shipped: false rollbacks in ${WINDOW} intervals (steady / baseline bursts / shared bursts)`,
      `${ofRuns(share(healthy, shippedBy(WINDOW)))} / ${ofRuns(share(burstyBaseline, shippedBy(WINDOW)))} / ${ofRuns(share(sharedBursts, shippedBy(WINDOW)))}`,
      '',
      '≤ 0.1 %',
      mark(
        Math.max(
          share(healthy, shippedBy(WINDOW)),
          share(burstyBaseline, shippedBy(WINDOW)),
          share(sharedBursts, shippedBy(WINDOW)),
        ) <= 0.001,
      ),
    ],
    [
      'median time to a verdict, regression (fail / rollback)',
      intervalsText(regressionMedian),
      intervalsText(fixedRegressionMedian),
      '',
      '',
    ],
    [
      `median time to a verdict, healthy, 20 req/s (pass; ${percent(passTimes(healthy).length / RUNS)} within ${HORIZON / 60} h)`,
      intervalsText(healthyMedian),
      'none: promotes on the hold timer',
      '',
      '',
    ],
    [
      `median time to a verdict, healthy, 200 req/s (pass; ${percent(passTimes(busyHealthy).length / RUNS)} within ${HORIZON / 60} h)`,
      intervalsText(median(passTimes(busyHealthy))),
      'none: promotes on the hold timer',
      '',
      '',
    ],
    [
      `low traffic 0.2 req/s, healthy: inconclusive after ${WINDOW} intervals`,
      percent(inconclusive),
      `${percent(fixedAlwaysInconclusive(lowTraffic))} inconclusive throughout`,
      '100 %',
      mark(inconclusive === 1),
    ],
    [
      `low traffic 0.2 req/s, regression: not passed after ${WINDOW} intervals`,
      percent(lowRegressionNotPassed),
      `${percent(fixedAlwaysInconclusive(lowTrafficRegression))} inconclusive throughout`,
      '100 %',
      mark(lowRegressionNotPassed === 1),
    ],
    [
      'with falseFailure 0.01: regression failed within 2 intervals',
      percent(share(looserRegression, failedBy(2))),
      '',
      '',
      '',
    ],
    [
      `with falseFailure 0.01: healthy, false rollbacks in ${WINDOW} intervals`,
      ofRuns(share(looserHealthy, failedBy(WINDOW))),
      '',
      '',
      '',
    ],
  ];
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]?.length ?? 0)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, c) => cell.padEnd(widths[c] ?? 0))
      .join(' | ')
      .trimEnd();
  console.log(
    `\nbench/judgement: seed ${SEED}, ${RUNS} runs per scenario, ${INTERVAL_SECONDS} s intervals, ${new Date().toISOString()}`,
  );
  console.log(line(header));
  console.log(line(widths.map((w) => '-'.repeat(w))));
  for (const row of rows) console.log(line(row));
  const ratio = (a: number, b: number) => (b === 0 ? (a === 0 ? '1' : '∞') : (a / b).toFixed(2));
  console.log(
    `ratios to the fixed-threshold rule: detection within 2 intervals ${ratio(detected, fixedDetected)}×; ` +
      `false rollbacks steady ${ratio(falseSteady, fixedFalse(healthy))}×, baseline bursts ${ratio(falseBursty, fixedFalse(burstyBaseline))}×, shared bursts ${ratio(falseShared, fixedFalse(sharedBursts))}×; ` +
      `median time to roll back a regression ${ratio(regressionMedian ?? 0, fixedRegressionMedian ?? 0)}×`,
  );
  console.log(`elapsed ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

main();
