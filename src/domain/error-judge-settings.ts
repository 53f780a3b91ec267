/** How sure the error judge must be, and of what (error-judge.ts explains the tests). */

export interface ErrorJudgeSettings {
  /** Tolerance: a canary error rate up to this multiple of the baseline's is not meaningful harm. Default 2. */
  readonly maxErrorRatio: number;
  /** Error rates below this (percent) are never meaningful harm, whatever the ratio. Default 0.1. */
  readonly errorRateFloorPercent: number;
  /** Chance of failing a canary that is no worse than its baseline (anytime). Default 0.001. */
  readonly falseFailure: number;
  /** Chance of passing a canary that is meaningfully worse (anytime). Default 0.01. */
  readonly falsePass: number;
}

export const DEFAULT_ERROR_JUDGE: ErrorJudgeSettings = {
  maxErrorRatio: 2,
  errorRateFloorPercent: 0.1,
  falseFailure: 0.001,
  falsePass: 0.01,
};
