import type { MetricsSource } from '../../app/ports.ts';
import type { AnalysisReading } from '../../domain/analysis.ts';
import type { Slot } from '../../domain/slots.ts';
import type { HaproxyTrafficSwitcher } from './haproxy-traffic-switcher.ts';

interface Counters {
  readonly responses: number;
  readonly errors: number;
}

/**
 * Analysis from HAProxy's own per-server stats, so no other system is needed: the 5xx share of
 * responses since the previous read (`hrsp_*` are cumulative, so deltas) and `rtime`, HAProxy's
 * average response time over the last 1024 requests, as the latency figure.
 */
export class HaproxyMetricsSource implements MetricsSource {
  private readonly haproxy: HaproxyTrafficSwitcher;

  constructor(haproxy: HaproxyTrafficSwitcher) {
    this.haproxy = haproxy;
  }

  async read(
    service: string,
    slot: Slot,
    previous: unknown,
  ): Promise<{ reading: AnalysisReading; sample: Counters }> {
    const row = await this.haproxy.stats(service, slot);
    const n = (name: string) => Number(row[name] ?? 0) || 0;
    const now: Counters = {
      responses:
        n('hrsp_1xx') +
        n('hrsp_2xx') +
        n('hrsp_3xx') +
        n('hrsp_4xx') +
        n('hrsp_5xx') +
        n('hrsp_other'),
      errors: n('hrsp_5xx'),
    };
    const before =
      isCounters(previous) && previous.responses <= now.responses
        ? previous
        : { responses: now.responses, errors: now.errors };
    const requests = now.responses - before.responses;
    const errors = now.errors - before.errors;
    return {
      reading: {
        requests,
        errorRatePercent: requests === 0 ? 0 : (errors / requests) * 100,
        latencyMs: row.rtime === undefined || row.rtime === '' ? null : n('rtime'),
      },
      sample: now,
    };
  }
}

function isCounters(value: unknown): value is Counters {
  return (
    typeof value === 'object' && value !== null && typeof (value as Counters).responses === 'number'
  );
}
