import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/config/config-error.ts';
import { parseConfig } from '../../../src/config/load-config.ts';

const PROMETHEUS = `{ prometheus: { url: "http://prom:9090", requestsQuery: 'sum(increase(http_requests_total{job="api",slot="{slot}"}[{interval}]))', errorRateQuery: 'sum(rate(http_requests_total{job="api",slot="{slot}",code=~"5.."}[1m])) / sum(rate(http_requests_total{job="api",slot="{slot}"}[1m]))', p99Query: 'histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{slot="{slot}"}[1m])))' } }`;

const withComms = (comms: string, deployEnv = '[]') => `
alertsChannel: C0ALERTS
roles: { lead: [U0LEAD], security: [S0SEC], team: [U0DEV1], cto: [U0CTO] }
comms: ${comms}
services:
  api:
    channel: C0RELEASES
    bootstrap: { production: blue, version: 2.4.0 }
    slots: { blue: { url: "http://10.0.0.1" }, green: { url: "http://10.0.0.2" } }
    deploy: { command: [./deploy.sh], env: ${deployEnv} }
    traffic: { haproxy: { runtimeApi: /run/haproxy/admin.sock, backend: api, servers: { blue: b, green: g } } }
    analysis: { source: ${PROMETHEUS} }
`;

function problemsOf(yaml: string): string[] {
  try {
    parseConfig(yaml);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((p) => `${p.path}: ${p.message}`);
    throw error;
  }
  return [];
}

const am = (matchers: string) =>
  `{ alertmanager: { url: "http://am:9093", matchers: ${matchers} } }`;

describe('comms', () => {
  it('is optional, and its defaults tell nobody and hold no silence', () => {
    const config = parseConfig(withComms('{}').replace(/\ncomms: \{\}\n/, '\n'));
    expect(config.comms).toEqual({
      channels: [],
      incidentReport: { remindAfterHours: 24, dueHours: 48 },
      webhooks: [],
    });
  });

  it('fills the lease, the tail and every event', () => {
    const config = parseConfig(
      withComms(
        `{ channels: [C0STAKE], alertmanager: { url: "http://am:9093", matchers: [{ name: team, value: payments }] }, webhooks: [{ url: "https://status.example.com/hook", secretEnv: STATUS_SECRET }] }`,
      ),
    );
    expect(config.comms.alertmanager).toEqual({
      url: 'http://am:9093',
      matchers: [{ name: 'team', value: 'payments', isRegex: false, isEqual: true }],
      leaseSeconds: 900,
      tailSeconds: 300,
      timeoutMs: 3000,
    });
    expect(config.comms.webhooks[0]?.events).toEqual([
      'started',
      'released',
      'rolled_back',
      'failed',
    ]);
    expect(config.comms.webhooks[0]?.timeoutMs).toBe(10_000);
  });

  it.each([
    ['[{ name: alertname, value: ApiHighErrorRate }]'],
    ['[{ name: team, value: payments }, { name: severity, value: "warning|info", isRegex: true }]'],
    ['[{ name: team, value: payments }, { name: job, value: api, isEqual: false }]'],
  ])('accepts matchers that leave the analysis alone: %s', (matchers) => {
    expect(problemsOf(withComms(am(matchers)))).toEqual([]);
  });

  it.each([
    // The same job the analysis queries read.
    ['[{ name: job, value: api }]', 'comms.alertmanager.matchers.0', '"api"'],
    // A regex that covers a judged metric name.
    [
      '[{ name: team, value: x }, { name: alertname, value: "http_.*", isRegex: true }]',
      'comms.alertmanager.matchers.1',
      'http_requests_total',
    ],
    ['[{ name: __name__, value: up }]', 'comms.alertmanager.matchers.0', '__name__'],
    // Only regexes or negations could cover every alert.
    [
      '[{ name: team, value: ".*", isRegex: true }]',
      'comms.alertmanager.matchers',
      'plain equality',
    ],
    [
      '[{ name: team, value: "(", isRegex: true }, { name: a, value: b }]',
      'comms.alertmanager.matchers.0',
      'invalid regular expression',
    ],
    ['[]', 'comms.alertmanager.matchers', ''],
    // Valid in JavaScript, refused by Alertmanager (Go's RE2) with a 400 at every release.
    [
      '[{ name: team, value: payments }, { name: severity, value: "(?!critical).*", isRegex: true }]',
      'comms.alertmanager.matchers.1',
      'Alertmanager',
    ],
    [
      '[{ name: team, value: payments }, { name: severity, value: "(a)\\\\1", isRegex: true }]',
      'comms.alertmanager.matchers.1',
      'Alertmanager',
    ],
  ])('refuses %s', (matchers, path, why) => {
    const problems = problemsOf(withComms(am(matchers))).join('\n');
    expect(problems).toContain(path);
    expect(problems).toContain(why);
  });

  // Ways of writing PromQL that the rule must still read: a bare metric (a recording rule, a
  // metric divided by another), single quotes and backticks, and a label regex in the query
  // that selects the value a plain matcher names.
  it.each([
    [
      "sum(rate(api_errors_total{slot='{slot}'}[1m])) / sum(api:requests:rate1m)",
      '[{ name: alertname, value: "api:requests:rate1m" }]',
      'api:requests:rate1m',
    ],
    [
      'job:latency_p99:5m',
      '[{ name: alertname, value: "job:latency_p99:5m" }]',
      'job:latency_p99:5m',
    ],
    [
      "sum(rate(api_errors_total{service='checkout',slot='{slot}'}[1m]))",
      '[{ name: service, value: checkout }]',
      '"checkout"',
    ],
    [
      'sum(rate(api_errors_total{service=`checkout`,slot="{slot}"}[1m]))',
      '[{ name: service, value: checkout }]',
      '"checkout"',
    ],
    [
      'sum(rate(api_errors_total{job=~"api-.*",slot="{slot}"}[1m]))',
      '[{ name: job, value: api-eu }]',
      'api-.*',
    ],
  ])('refuses a matcher covering what %s judges', (p99Query, matchers, why) => {
    const yaml = withComms(am(matchers)).replace(
      /p99Query: '[^']*'/,
      `p99Query: ${JSON.stringify(p99Query)}`,
    );
    const problems = problemsOf(yaml).join('\n');
    expect(problems).toContain('comms.alertmanager.matchers.0');
    expect(problems).toContain(why);
  });

  it('still accepts a silence by alertname when the queries read other names', () => {
    const yaml = withComms(am('[{ name: alertname, value: ApiHighLatency }]')).replace(
      /p99Query: '[^']*'/,
      `p99Query: "histogram_quantile(0.99, sum by (le, job) (rate(x_bucket{slot='{slot}'}[5m]))) * 1e3 offset 1m"`,
    );
    expect(problemsOf(yaml)).toEqual([]);
  });

  it.each([
    ['{ webhooks: [{ url: "https://x.example", secret: "inline" }] }', 'comms.webhooks.0'],
    ['{ webhooks: [{ url: "ftp://x.example", secretEnv: S }] }', 'comms.webhooks.0.url'],
    [
      '{ webhooks: [{ url: "https://x.example", secretEnv: S, timeoutMs: 50 }] }',
      'comms.webhooks.0.timeoutMs',
    ],
    [
      '{ webhooks: [{ url: "https://x.example", secretEnv: S, timeoutMs: 120000 }] }',
      'comms.webhooks.0.timeoutMs',
    ],
    [
      '{ webhooks: [{ url: "https://x.example", secretEnv: S, events: [deployed] }] }',
      'comms.webhooks.0.events.0',
    ],
    ['{ channels: ["#status"] }', 'comms.channels.0'],
    // Three calls at most per extension must fit in the silence lock (30 s), or two comms
    // steps could each make a silence.
    [
      '{ alertmanager: { url: "http://am:9093", matchers: [{ name: team, value: x }], timeoutMs: 20000 } }',
      'comms.alertmanager.timeoutMs',
    ],
    ['{ services: [web] }', 'comms.services.0'],
    [
      '{ incidentReport: { remindAfterHours: 48, dueHours: 24 } }',
      'comms.incidentReport.remindAfterHours',
    ],
  ])('refuses %s', (comms, path) => {
    expect(problemsOf(withComms(comms)).join('\n')).toContain(path);
  });

  it('keeps a comms webhook secret out of child processes', () => {
    const problems = problemsOf(
      withComms(
        '{ webhooks: [{ url: "https://x.example", secretEnv: STATUS_SECRET }] }',
        '[STATUS_SECRET]',
      ),
    );
    expect(problems.join('\n')).toContain(
      'services.api.deploy.env.0: STATUS_SECRET is a deploy webhook secret',
    );
  });
});
