import type { ObservedDependency } from '../http/ops-routes.ts';

export interface SlackHealthOptions {
  /** Resolves when Slack accepts the bot token (auth.test); rejects with why otherwise. */
  readonly probe: () => Promise<void>;
  /** Told 1 or 0 after every check (the `greenlight_slack_up` gauge). */
  readonly report: (up: 0 | 1) => void;
  readonly log: {
    warn(fields: object, message: string): void;
    info(fields: object, message: string): void;
  };
  /** A result younger than this is not checked again. */
  readonly freshMs: number;
  readonly now: () => number;
}

/**
 * Slack's health as a metric and a log line, never as readiness: a Slack incident delays
 * messages (the outbox retries) but must not mark every replica unready. `status()` answers from
 * memory and starts a check in the background when the last one is stale, so neither /readyz nor
 * /metrics ever waits on Slack. One check runs at a time; a change is logged once.
 */
export class SlackHealth implements ObservedDependency {
  readonly name = 'slack';
  private readonly options: SlackHealthOptions;
  private last: { at: number; error: string | undefined } | undefined;
  private running: Promise<void> | undefined;

  constructor(options: SlackHealthOptions) {
    this.options = options;
  }

  status(): string {
    void this.refresh();
    if (this.last === undefined) return 'unknown';
    return this.last.error === undefined ? 'ok' : this.last.error;
  }

  /** Checks Slack unless the last result is fresh; never throws. */
  refresh(): Promise<void> {
    const { now, freshMs } = this.options;
    if (this.running !== undefined) return this.running;
    if (this.last !== undefined && now() - this.last.at < freshMs) return Promise.resolve();
    return this.checkNow();
  }

  /**
   * Checks Slack unless a check is running; never throws. For the periodic watch: a result is
   * stamped when its check ends, so a tick one period after the last one finds it a little
   * younger than the period, and `refresh` would skip every other tick.
   */
  checkNow(): Promise<void> {
    if (this.running !== undefined) return this.running;
    this.running = this.check().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async check(): Promise<void> {
    const { probe, report, log, now } = this.options;
    let error: string | undefined;
    try {
      await probe();
    } catch (e) {
      error = `auth.test failed: ${(e as Error).message}`;
    }
    const before = this.last;
    this.last = { at: now(), error };
    report(error === undefined ? 1 : 0);
    if (error !== undefined && before?.error === undefined) {
      log.warn(
        { slack: error },
        'Slack does not accept the bot token; messages wait in the outbox and readiness is unaffected',
      );
    } else if (error === undefined && before?.error !== undefined) {
      log.info({}, 'Slack accepts the bot token again');
    }
  }
}
