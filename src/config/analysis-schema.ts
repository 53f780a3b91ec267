import { z } from 'zod';
import { httpUrl, positiveInt } from './schema-values.ts';

// A service's canary steps and the analysis that judges them (and the stability window).

export const canarySchema = z.strictObject({
  steps: z
    .array(z.number().int().min(1).max(100))
    .min(1)
    .refine((steps) => steps.every((s, i) => i === 0 || s > (steps[i - 1] ?? 0)), {
      error: 'expected increasing percentages',
    })
    .refine((steps) => steps.at(-1) === 100, { error: 'expected the last step to be 100' })
    .default([5, 20, 50, 100]),
  holdMinutes: z.number().positive().default(10),
  autoPromote: z.boolean().default(false),
});

export const analysisSchema = z.strictObject({
  source: z
    .union([
      z.literal('haproxy'),
      z.strictObject({
        prometheus: z.strictObject({
          url: httpUrl,
          /** Fraction of failed requests (0–1) over the interval; `{slot}` is replaced. */
          errorRateQuery: z.string().min(1),
          /** P99 latency in seconds; `{slot}` is replaced. */
          p99Query: z.string().min(1),
          /**
           * Optional: the interval's latency histogram by `le` (cumulative counts), to compare
           * canary and baseline distributions; `{slot}` and `{interval}` are replaced.
           */
          latencyBucketsQuery: z.string().min(1).optional(),
          /**
           * Requests over the interval; `{slot}` is replaced. Required: without a count, thin
           * traffic could never be told from a healthy canary.
           */
          requestsQuery: z
            .string({
              error: (issue) =>
                issue.input === undefined
                  ? 'a Prometheus analysis needs requestsQuery (requests per slot since the last reading, e.g. sum(increase(http_requests_total{slot="{slot}"}[{interval}]))): without a count, no data would look like a pass'
                  : 'must be a PromQL query string',
            })
            .min(1)
            .refine((q) => q.includes('{interval}'), {
              error:
                'requestsQuery must count requests since the last reading: use {interval} as its range, e.g. sum(increase(http_requests_total{slot="{slot}"}[{interval}])) (a fixed range such as [1m] counts requests twice when readings overlap)',
            }),
        }),
      }),
    ])
    .default('haproxy'),
  /**
   * Absolute ceiling: strong evidence, on the canary's running counts, that its error rate is
   * above it rolls back on its own.
   */
  maxErrorRatePercent: z.number().min(0).max(100).default(0.5),
  /** Ceiling for a real P99 (Prometheus), and for HAProxy's mean when `maxMeanMs` is unset. */
  maxP99Ms: positiveInt.default(800),
  /** Ceiling for HAProxy's mean response time (`rtime`), the only latency HAProxy's stats have. */
  maxMeanMs: positiveInt.optional(),
  /** Canary requests below which an interval's ceilings are not judged (too thin to mean anything). */
  minRequests: z.number().int().min(0).default(50),
  intervalSeconds: z.number().min(0.2).default(60),
  consecutiveBreaches: positiveInt.default(2),
  /** Tolerance: a canary error rate up to this multiple of the baseline's is not meaningful harm. */
  maxErrorRatio: z.number().min(1).default(2),
  /** Error rates below this are never meaningful harm, whatever the ratio. */
  errorRateFloorPercent: z.number().min(0).max(100).default(0.1),
  /** Chance of rolling back a canary no worse than its baseline, however often it is judged. */
  falseRollbackPercent: z.number().gt(0).max(50).default(0.1),
  /** Chance of passing a canary meaningfully worse than its baseline. */
  falsePassPercent: z.number().gt(0).max(50).default(1),
  /** Consecutive readings with no data (failed or empty) before the release pauses and asks. */
  maxFailedReads: positiveInt.default(3),
  /**
   * A stability window that ends without enough evidence: `release` (recorded as "not enough
   * traffic to judge") or `rollback`.
   */
  whenInconclusive: z.enum(['release', 'rollback']).default('release'),
  /** Shadow mode: judge and report every reading, never act on one. */
  dryRun: z.boolean().default(false),
});
