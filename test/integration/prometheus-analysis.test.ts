import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrometheusMetricsSource } from '../../src/adapters/http/prometheus-metrics-source.ts';
import { parseConfig } from '../../src/config/load-config.ts';
import { judgeInterval } from '../../src/domain/analysis.ts';
import { type PrometheusFixture, startPrometheus } from '../../testkit/prometheus-fixture.ts';
import { eventually } from '../../testkit/release-world.ts';
import { type SlotServer, startSlotServer } from '../../testkit/slot-server.ts';

describe('analysis from a real Prometheus scraping the slots', () => {
  let blue: SlotServer;
  let green: SlotServer;
  let prometheus: PrometheusFixture;
  let source: PrometheusMetricsSource;
  const http = new Agent();

  beforeAll(async () => {
    blue = await startSlotServer('blue', { version: '2.4.0' });
    green = await startSlotServer('green', { version: '2.4.1', errorRate: 0.2 });
    prometheus = await startPrometheus({
      blue: `127.0.0.1:${blue.port}`,
      green: `127.0.0.1:${green.port}`,
    });
    const config = parseConfig(`
alertsChannel: C0ALERTS
roles: { lead: [U0LEAD], security: [S0SEC], team: [U0DEV1], cto: [U0CTO] }
services:
  api:
    channel: C0RELEASES
    bootstrap: { production: blue, version: 2.4.0 }
    slots: { blue: { url: "${blue.url}" }, green: { url: "${green.url}" } }
    deploy: { command: [./deploy.sh] }
    traffic: { haproxy: { runtimeApi: "127.0.0.1:9999", backend: api, servers: { blue: blue, green: green } } }
    analysis:
      source:
        prometheus:
          url: "${prometheus.url}"
          errorRateQuery: '(sum(rate(slot_requests_total{job="{slot}",code="500"}[5s])) or vector(0)) / sum(rate(slot_requests_total{job="{slot}"}[5s]))'
          p99Query: 'histogram_quantile(0.99, sum by (le) (rate(slot_request_duration_seconds_bucket{job="{slot}"}[5s])))'
          requestsQuery: 'sum(increase(slot_requests_total{job="{slot}"}[{interval}]))'
      maxErrorRatePercent: 0.5
      minRequests: 20
      intervalSeconds: 5
`);
    source = new PrometheusMetricsSource(config.services, http);
  }, 60_000);

  afterAll(async () => {
    await prometheus?.stop();
    await blue?.close();
    await green?.close();
    await http.close();
  });

  it('reads error rate, P99 and request count per slot, and the canary breaches while the baseline passes', async () => {
    // Traffic until both readings are in (Prometheus sees it over a 5 s window).
    let flowing = true;
    const traffic = (async () => {
      while (flowing) {
        await Promise.all(
          [blue.url, green.url].map(async (url) => (await fetch(url)).arrayBuffer()),
        );
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    const canary = await eventually(
      // Until Prometheus has scraped some traffic, a read is "no data" (thrown), never zeros.
      async () => (await source.read('api', 'green').catch(() => null))?.reading,
      (r) => (r?.requests ?? 0) >= 20 && (r?.errorRatePercent ?? 0) > 0,
      10_000,
      250,
    );
    const baseline = await eventually(
      async () => (await source.read('api', 'blue').catch(() => null))?.reading,
      (r) => (r?.requests ?? 0) >= 20,
      10_000,
      250,
    );
    flowing = false;
    await traffic;
    if (canary === undefined || baseline === undefined) throw new Error('no readings');
    expect(canary.errorRatePercent).toBeGreaterThan(10);
    expect(canary.errorRatePercent).toBeLessThan(30);
    expect(canary.latencyMs).not.toBeNull();
    expect(baseline.errorRatePercent).toBe(0);
    // Counts, not only a rate: errors are the rate's share of the requests, and the latency is
    // a real percentile from the histogram.
    expect(canary.errors).toBe(
      Math.round((canary.errorRatePercent / 100) * (canary.requests ?? 0)),
    );
    expect(canary.latencyKind).toBe('p99');
    expect(baseline.errors).toBe(0);
    const thresholds = { maxErrorRatePercent: 0.5, maxP99Ms: 800, minRequests: 20 };
    const settings = {
      maxErrorRatio: 2,
      errorRateFloorPercent: 0.1,
      falseFailure: 0.001,
      falsePass: 0.01,
    };
    expect(judgeInterval(canary, baseline, undefined, thresholds, settings).verdict.verdict).toBe(
      'fail',
    );
  });

  it('reports a query Prometheus refuses, so the analysis says why it has no figure', async () => {
    await expect(source.query(prometheus.url, 'sum(rate(')).rejects.toThrow(
      /Prometheus refused "sum\(rate\("/,
    );
  });
});
