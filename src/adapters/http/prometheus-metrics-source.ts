import { type Dispatcher, request } from 'undici';
import type { MetricsSource } from '../../app/ports.ts';
import type { ServiceConfig } from '../../config/greenlight-schema.ts';
import type { AnalysisReading } from '../../domain/analysis.ts';
import type { Slot } from '../../domain/slots.ts';

interface PrometheusQueries {
  readonly url: string;
  readonly errorRateQuery: string;
  readonly p99Query: string;
  readonly requestsQuery?: string;
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

  /** One instant query; an empty result is 0 (no traffic, no errors), NaN is 0 too. */
  async query(base: string, promql: string): Promise<number> {
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
    const value = Number(raw ?? 0);
    return Number.isFinite(value) ? value : 0;
  }

  async read(service: string, slot: Slot): Promise<{ reading: AnalysisReading; sample: null }> {
    const q = this.queries(service);
    const fill = (promql: string) => promql.replaceAll('{slot}', slot);
    const [errorRate, p99Seconds, requests] = await Promise.all([
      this.query(q.url, fill(q.errorRateQuery)),
      this.query(q.url, fill(q.p99Query)),
      q.requestsQuery ? this.query(q.url, fill(q.requestsQuery)) : Promise.resolve(null),
    ]);
    return {
      reading: {
        requests: requests === null ? null : Math.round(requests),
        errorRatePercent: errorRate * 100,
        latencyMs: p99Seconds * 1000,
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
