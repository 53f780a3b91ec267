/** A flag as Greenlight addresses it at its provider. */
export interface FlagRef {
  /** The flag's name at the provider (Unleash: the feature name). */
  readonly name: string;
  /** The provider's environment (Unleash: `production`, `development`, …). */
  readonly environment: string;
}

/** What the provider says about a flag in one environment. */
export interface FlagState {
  readonly enabled: boolean;
  /** The gradual-rollout percentage Greenlight manages (100 when fully on). */
  readonly percent: number;
}

/**
 * A feature-flag provider (Unleash first; LaunchDarkly, Flagsmith or flagd can follow). Greenlight
 * only changes and reads flags; it never creates or deletes them. Every call has a deadline of
 * the provider's own (`timeoutMs`) and throws FlagProviderError when it cannot be done.
 */
export interface FlagProvider {
  enable(flag: FlagRef): Promise<void>;
  disable(flag: FlagRef): Promise<void>;
  /** Sets the gradual-rollout percentage (1–100); does not turn the flag on by itself. */
  setPercent(flag: FlagRef, percent: number): Promise<void>;
  read(flag: FlagRef): Promise<FlagState>;
}

export type FlagProviderErrorCode = 'unreachable' | 'refused' | 'not_found';

/** Why a provider call failed, in one line fit for a thread (never a token). */
export class FlagProviderError extends Error {
  readonly code: FlagProviderErrorCode;
  constructor(code: FlagProviderErrorCode, message: string) {
    super(message);
    this.name = 'FlagProviderError';
    this.code = code;
  }
}
