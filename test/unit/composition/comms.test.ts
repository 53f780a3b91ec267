import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { buildComms } from '../../../src/composition/comms.ts';
import { ConfigError } from '../../../src/config/config-error.ts';
import { parseConfig } from '../../../src/config/load-config.ts';
import { createLogger } from '../../../src/logger.ts';
import { apiConfig } from '../../../testkit/api-config.ts';

const yaml = (comms: string) =>
  apiConfig({
    roles: '{ lead: [U0LEAD], security: [U0SEC], team: [U0DEV1], cto: [U0CTO] }',
    top: `comms: ${comms}`,
    deploy: '{ command: [./deploy.sh] }',
    haproxy: 'servers: { blue: b, green: g }',
  });

/** buildComms only wires: nothing it is handed is called while it builds. */
function build(comms: string, processEnv: NodeJS.ProcessEnv) {
  const lines: string[] = [];
  const logger = createLogger(
    'debug',
    new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    }),
  );
  const unused = {} as never;
  const run = () =>
    buildComms(parseConfig(yaml(comms)), {
      redis: unused,
      prefix: '{t}',
      http: unused,
      steps: unused,
      outbox: unused,
      now: Date.now,
      processEnv,
      logger,
    });
  return { run, lines };
}

describe('comms at start-up', () => {
  const am = (lease: number) =>
    `{ alertmanager: { url: "http://am:9093", matchers: [{ name: team, value: payments }], leaseSeconds: ${lease} } }`;

  it('refuses a silence lease under two control loop intervals (it would lapse mid-release)', () => {
    const { run } = build(am(100), { GREENLIGHT_RECONCILE_INTERVAL_SECONDS: '60' });
    expect(run).toThrow(ConfigError);
    expect(run).toThrow(/comms\.alertmanager\.leaseSeconds: 100 s is under two control loop/);
    expect(build(am(120), { GREENLIGHT_RECONCILE_INTERVAL_SECONDS: '60' }).run).not.toThrow();
    // Unset, the interval is its default of 60 s.
    expect(build(am(100), {}).run).toThrow(ConfigError);
  });

  it('names an unset webhook secret without logging the password in the webhook URL', () => {
    const { run, lines } = build(
      '{ webhooks: [{ url: "https://hooks:pa55word@status.example.com/hook", secretEnv: STATUS_SECRET }] }',
      {},
    );
    run();
    const log = lines.join('');
    expect(log).toContain('STATUS_SECRET is not set');
    expect(log).toContain('status.example.com');
    expect(log).not.toContain('pa55word');
  });
});
