import { type Dispatcher, request } from 'undici';
import type { MetricsSource } from '../../app/ports.ts';
import type { ServiceConfig } from '../../config/greenlight-schema.ts';
import type { AnalysisReading } from '../../domain/analysis.ts';
import type { Slot } from '../../domain/slots.ts';

interface PrometheusQueries {
  readonly url: string;
  readonly errorRateQuery: string;
  readonly p99Query: string;
  readonly requestsQuery: string;
  readonly latencyBucketsQuery?: string | undefined;
}

/** Analysis from Prometheus instant queries; `{slot}` in each query becomes the slot's name. */
export class PrometheusMetricsSource implements MetricsSource {
  private readonly services: Readonly<Record<string, ServiceConfig>>;
  private readonly dispatcher: Dispatcher;

  constructor(services: Readonly<Record<string, ServiceConfig>>, dispatcher: Dispatcher) {
    this.services = services;
    this.dispatcher = dispatcher;
  }

  private queries(service: string): PrometheusQueries {
    const source = this.services[service]?.analysis.source;
    if (source === undefined || source === 'haproxy')
      throw new Error(`${service} does not use Prometheus for analysis`);
    return source.prometheus;
  }

  /** One instant query's `data`, or an error naming the query Prometheus refused. */
  private async instant(
    base: string,
    promql: string,
  ): Promise<{ resultType?: string; result?: unknown }> {
    const url = new URL('/api/v1/query', base);
    url.searchParams.set('query', promql);
    const res = await request(url, {
      method: 'GET',
      dispatcher: this.dispatcher,
      signal: AbortSignal.timeout(5000),
    });
    const body = (await res.body.json()) as {
      status?: string;
      error?: string;
      data?: { resultType?: string; result?: unknown };
    };
    if (res.statusCode !== 200 || body.status !== 'success') {
      throw new Error(`Prometheus refused "${promql}": ${body.error ?? `HTTP ${res.statusCode}`}`);
    }
    return body.data ?? {};
  }

  /**
   * One instant query: its value, or null when Prometheus returned no series or NaN (a mistyped
   * label, a metric that does not exist yet, 0/0): "no data" is never read as 0.
   */
  async query(base: string, promql: string): Promise<number | null> {
    const data = await this.instant(base, promql);
    const result = data.result;
    let raw: unknown;
    if (data.resultType === 'scalar' && Array.isArray(result)) raw = result[1];
    else if (Array.isArray(result) && result.length > 0)
      raw = (result[0] as { value?: [number, string] }).value?.[1];
    if (raw === undefined || raw === null) return null;
    const value = Number(raw);
    return Number.isFinite(value) ? value : null;
  }

  /** A histogram query: one series per `le` bound (`+Inf` included), cumulative counts. */
  async buckets(base: string, promql: string): Promise<{ le: number; count: number }[]> {
    const result = (await this.instant(base, promql)).result;
    const series = Array.isArray(result)
      ? (result as { metric?: { le?: string }; value?: [number, string] }[])
      : [];
    return series
      .map((one) => ({
        le: one.metric?.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(one.metric?.le),
        count: Number(one.value?.[1]),
      }))
      .filter((b) => !Number.isNaN(b.le) && Number.isFinite(b.count) && b.count >= 0)
      .sort((a, b) => a.le - b.le);
  }

  /**
   * One reading of a slot. `{interval}` in a query becomes the time since this slot's previous
   * reading (the configured interval for the first), so consecutive readings count disjoint
   * spans of requests however late or often a tick runs: a re-delivered job counts nothing twice.
   */
  async read(
    service: string,
    slot: Slot,
    previous?: unknown,
    at: Date = new Date(),
  ): Promise<{ reading: AnalysisReading; sample: { at: number } }> {
    const q = this.queries(service);
    const configured = (this.services[service]?.analysis.intervalSeconds ?? 60) * 1000;
    const last =
      typeof previous === 'object' &&
      previous !== null &&
      typeof (previous as { at?: unknown }).at === 'number'
        ? (previous as { at: number }).at
        : undefined;
    const spanMs = last !== undefined && last < at.getTime() ? at.getTime() - last : configured;
    const interval = `${Math.max(1, Math.round(spanMs / 1000))}s`;
    const fill = (promql: string) =>
      promql.replaceAll('{slot}', slot).replaceAll('{interval}', interval);
    const sample = { at: at.getTime() };
    if (last !== undefined && at.getTime() - last < 1000) {
      // Less than a second since the last reading (a duplicate tick): nothing new to count.
      return {
        reading: {
          requests: 0,
          errors: 0,
          errorRatePercent: 0,
          latencyMs: null,
          latencyKind: 'p99',
        },
        sample: { at: last },
      };
    }
    const [requests, errorRate, p99Seconds, buckets] = await Promise.all([
      this.query(q.url, fill(q.requestsQuery)),
      this.query(q.url, fill(q.errorRateQuery)),
      this.query(q.url, fill(q.p99Query)),
      q.latencyBucketsQuery ? this.buckets(q.url, fill(q.latencyBucketsQuery)) : undefined,
    ]);
    if (requests === null)
      throw new Error(`no data: requestsQuery returned nothing for ${slot} (check its labels)`);
    const count = Math.max(0, Math.round(requests));
    // With no requests the rate and the percentile are 0/0: nothing to judge. With requests, a
    // missing figure is no data, never a pass.
    if (errorRate === null && count > 0)
      throw new Error(`no data: errorRateQuery returned nothing for ${slot} (check its labels)`);
    if (p99Seconds === null && count > 0)
      throw new Error(`no data: p99Query returned nothing for ${slot} (check its labels)`);
    const rate = Math.min(1, Math.max(0, errorRate ?? 0));
    return {
      reading: {
        requests: count,
        errors: Math.round(rate * count),
        errorRatePercent: rate * 100,
        latencyMs: p99Seconds === null ? null : p99Seconds * 1000,
        latencyKind: 'p99',
        ...(buckets !== undefined && buckets.length > 0 ? { latencyBuckets: buckets } : {}),
      },
      sample,
    };
  }
}

/** Picks each service's analysis source from greenlight.yml. */
export class ConfiguredMetricsSource implements MetricsSource {
  private readonly services: Readonly<Record<string, ServiceConfig>>;
  private readonly haproxy: MetricsSource;
  private readonly prometheus: MetricsSource;

  constructor(
    services: Readonly<Record<string, ServiceConfig>>,
    haproxy: MetricsSource,
    prometheus: MetricsSource,
  ) {
    this.services = services;
    this.haproxy = haproxy;
    this.prometheus = prometheus;
  }

  read(service: string, slot: Slot, previous: unknown, at?: Date) {
    const source = this.services[service]?.analysis.source ?? 'haproxy';
    return (source === 'haproxy' ? this.haproxy : this.prometheus).read(
      service,
      slot,
      previous,
      at,
    );
  }
}
