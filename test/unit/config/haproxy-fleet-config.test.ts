import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/config/config-error.ts';
import { parseConfig } from '../../../src/config/load-config.ts';

const withTraffic = (haproxy: string) => `alertsChannel: C0ALERTS
roles: { lead: [U0LEAD], security: [U0SEC], team: [U0DEV1], cto: [U0CTO] }
services:
  api:
    channel: C0RELEASES
    bootstrap: { production: blue, version: 2.4.0 }
    slots: { blue: { url: "http://127.0.0.1:3001" }, green: { url: "http://127.0.0.1:3002" } }
    deploy: { command: ["./deploy.sh"] }
    traffic: { haproxy: { ${haproxy}, backend: api, servers: { blue: blue, green: green } } }
`;

function problems(yaml: string): string {
  try {
    parseConfig(yaml);
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
  return '';
}

describe('traffic.haproxy.instances: one service behind several load balancers', () => {
  it('takes a list of instances with names and regions, all at once by default', () => {
    const config = parseConfig(
      withTraffic(
        'instances: [{ name: lb-eu-1, region: eu, runtimeApi: "10.0.0.1:9999" }, { name: lb-us-1, region: us, runtimeApi: /run/haproxy.sock }]',
      ),
    );
    const traffic = config.services.api?.traffic;
    expect(traffic && 'haproxy' in traffic ? traffic.haproxy : undefined).toMatchObject({
      order: 'all',
      instances: [
        { name: 'lb-eu-1', region: 'eu', runtimeApi: '10.0.0.1:9999' },
        { name: 'lb-us-1', region: 'us', runtimeApi: '/run/haproxy.sock' },
      ],
    });
  });

  it('keeps the single runtimeApi form unchanged', () => {
    expect(problems(withTraffic('runtimeApi: "127.0.0.1:9999"'))).toBe('');
  });

  it.each([
    [
      'runtimeApi: "127.0.0.1:9999", instances: [{ name: a, runtimeApi: "127.0.0.1:1" }]',
      'either runtimeApi (one HAProxy) or instances (several), not both',
    ],
    ['timeoutMs: 1000', 'either runtimeApi (one HAProxy) or instances (several), not both'],
    [
      'instances: [{ name: a, runtimeApi: "127.0.0.1:1" }, { name: a, runtimeApi: "127.0.0.1:2" }]',
      'expected unique instance names, got "a" twice',
    ],
    ['instances: [{ name: "a b", runtimeApi: "127.0.0.1:1" }]', 'expected an HAProxy name'],
    ['instances: [{ name: a, runtimeApi: "localhost" }]', 'expected host:port'],
    ['instances: [{ name: a, runtimeApi: "127.0.0.1:1" }], order: random', 'order'],
    [
      'instances: [{ name: a, region: eu, runtimeApi: "127.0.0.1:1" }, { name: b, region: us, runtimeApi: "127.0.0.1:2" }, { name: c, region: ap, runtimeApi: "127.0.0.1:3" }], order: region, regionSoakSeconds: 200',
      '3 regions soaking 200 s each (plus a minute to switch) outlast deadlines.switchMinutes (5)',
    ],
  ])('refuses %s', (haproxy, message) => {
    expect(problems(withTraffic(haproxy))).toContain(message);
  });
});
