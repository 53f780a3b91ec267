import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/config/config-error.ts';
import { parseConfig } from '../../../src/config/load-config.ts';

const VALID = `alertsChannel: C0ALERTS
roles: { lead: [U0LEAD], security: [U0SEC], team: [U0DEV1], cto: [U0CTO] }
services:
  api:
    channel: C0RELEASES
    bootstrap: { production: blue, version: 2.4.0 }
    slots: { blue: { url: "http://127.0.0.1:3001" }, green: { url: "http://127.0.0.1:3002" } }
    deploy: { command: ["./deploy.sh"] }
    traffic: { haproxy: { runtimeApi: "127.0.0.1:9999", backend: api, servers: { blue: blue, green: green } } }
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

describe('config errors a person can act on', () => {
  it('names an unknown key and the known one it was probably meant to be, without dumping the file', () => {
    const message = problems(VALID.replace('alertsChannel', 'alertChannel'));
    expect(message).toContain(
      'alertChannel: unknown key "alertChannel"; did you mean "alertsChannel"?',
    );
    expect(message).not.toContain('C0RELEASES');
  });

  it('suggests nested keys too', () => {
    const message = problems(VALID.replace('bootstrap:', 'bootstrp:'));
    expect(message).toContain(
      'services.api.bootstrp: unknown key "bootstrp"; did you mean "bootstrap"?',
    );
  });

  it('shows the value given for a wrong type', () => {
    expect(problems(VALID.replace('"http://127.0.0.1:3002"', 'localhost:3002'))).toContain(
      'got "localhost:3002"',
    );
  });

  it('points a YAML syntax error at its line with a caret excerpt', () => {
    const message = problems(`${VALID}  web: [unclosed\n`);
    expect(message).toMatch(/greenlight\.yml:\d+:\d+: /);
    expect(message).toContain('^');
  });
});
