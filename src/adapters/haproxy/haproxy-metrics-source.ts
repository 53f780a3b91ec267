import type { MetricsSource } from '../../app/ports.ts';
import type { AnalysisReading } from '../../domain/analysis.ts';
import type { Slot } from '../../domain/slots.ts';

/** HAProxy's per-server counters for a service: one instance's, or a fleet's summed. */
export interface HaproxyStats {
  stats(service: string, slot: Slot): Promise<Record<string, string>>;
  startedAt(service: string): Promise<Date>;
}

interface Counters {
  readonly responses: number;
  readonly errors: number;
  /** Requests that never got a response from this server (connection errors). */
  readonly unanswered?: number;
  /** When the HAProxy process that counted them started: a reload restarts every counter. */
  readonly since?: number;
}

/**
 * Analysis from HAProxy's own per-server stats, so no other system is needed. Counters are
 * cumulative, so each reading is the difference from the previous one: requests are responses
 * plus connection errors; errors are 5xx, connection errors, response errors (`eresp`, which
 * includes aborts), retries and redispatches away from the server, capped at the requests.
 * HAProxy's stats have no percentile: the latency figure is `rtime`, the mean response time of
 * the last 1024 requests, and it is labelled and judged as a mean.
 */
export class HaproxyMetricsSource implements MetricsSource {
  private readonly haproxy: HaproxyStats;

  constructor(haproxy: HaproxyStats) {
    this.haproxy = haproxy;
  }

  async read(
    service: string,
    slot: Slot,
    previous: unknown,
  ): Promise<{ reading: AnalysisReading; sample: Counters }> {
    const row = await this.haproxy.stats(service, slot);
    const since = (
      await Promise.resolve()
        .then(() => this.haproxy.startedAt(service))
        .catch(() => undefined)
    )?.getTime();
    const n = (name: string) => Number(row[name] ?? 0) || 0;
    const now: Counters = {
      responses:
        n('hrsp_1xx') +
        n('hrsp_2xx') +
        n('hrsp_3xx') +
        n('hrsp_4xx') +
        n('hrsp_5xx') +
        n('hrsp_other'),
      errors: n('hrsp_5xx') + n('econ') + n('eresp') + n('wretr') + n('wredis'),
      unanswered: n('econ'),
      ...(since !== undefined ? { since } : {}),
    };
    // Counters from another HAProxy process (a reload between reads), or ones that went down,
    // cannot be subtracted: this interval is skipped (zero requests) and counting starts again.
    const sameProcess =
      isCounters(previous) &&
      (previous.since === undefined || now.since === undefined || previous.since === now.since);
    const before =
      isCounters(previous) &&
      sameProcess &&
      previous.responses <= now.responses &&
      previous.errors <= now.errors &&
      (previous.unanswered ?? 0) <= (now.unanswered ?? 0)
        ? previous
        : now;
    const requests =
      now.responses - before.responses + ((now.unanswered ?? 0) - (before.unanswered ?? 0));
    const errors = Math.min(requests, now.errors - before.errors);
    return {
      reading: {
        requests,
        errors,
        errorRatePercent: requests === 0 ? 0 : (errors / requests) * 100,
        latencyMs: row.rtime === undefined || row.rtime === '' ? null : n('rtime'),
        latencyKind: 'mean',
      },
      sample: now,
    };
  }
}

function isCounters(value: unknown): value is Counters {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Counters).responses === 'number' &&
    typeof (value as Counters).errors === 'number'
  );
}
