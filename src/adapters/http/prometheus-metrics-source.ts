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

  /**
   * One instant query: its value, or null when Prometheus returned no series or NaN (a mistyped
   * label, a metric that does not exist yet, 0/0): "no data" is never read as 0.
   */
  async query(base: string, promql: string): Promise<number | null> {
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
    const result = body.data?.result;
    let raw: unknown;
    if (body.data?.resultType === 'scalar' && Array.isArray(result)) raw = result[1];
    else if (Array.isArray(result) && result.length > 0)
      raw = (result[0] as { value?: [number, string] }).value?.[1];
    if (raw === undefined || raw === null) return null;
    const value = Number(raw);
    return Number.isFinite(value) ? value : null;
  }

  async read(service: string, slot: Slot): Promise<{ reading: AnalysisReading; sample: null }> {
    const q = this.queries(service);
    const fill = (promql: string) => promql.replaceAll('{slot}', slot);
    const [requests, errorRate, p99Seconds] = await Promise.all([
      this.query(q.url, fill(q.requestsQuery)),
      this.query(q.url, fill(q.errorRateQuery)),
      this.query(q.url, fill(q.p99Query)),
    ]);
    if (requests === null)
      throw new Error(`no data: requestsQuery returned nothing for ${slot} (check its labels)`);
    const count = Math.max(0, Math.round(requests));
    // With no requests the rate is 0/0: nothing failed. With requests, a missing rate is no data.
    if (errorRate === null && count > 0)
      throw new Error(`no data: errorRateQuery returned nothing for ${slot} (check its labels)`);
    const rate = Math.min(1, Math.max(0, errorRate ?? 0));
    return {
      reading: {
        requests: count,
        errors: Math.round(rate * count),
        errorRatePercent: rate * 100,
        latencyMs: p99Seconds === null ? null : p99Seconds * 1000,
        latencyKind: 'p99',
      },
      sample: null,
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

  read(service: string, slot: Slot, previous: unknown) {
    const source = this.services[service]?.analysis.source ?? 'haproxy';
    return (source === 'haproxy' ? this.haproxy : this.prometheus).read(service, slot, previous);
  }
}
