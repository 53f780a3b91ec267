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

describe('names sent to the HAProxy Runtime API', () => {
  it.each([
    [
      'backend: api',
      'backend: "api; disable server api/blue"',
      'backend',
      'api; disable server api/blue',
    ],
    ['backend: api', 'backend: "api be"', 'backend', 'api be'],
    [
      'blue: blue, green: green',
      'blue: "blue\\nshow env", green: green',
      'servers.blue',
      'blue\\nshow env',
    ],
    ['blue: blue, green: green', 'blue: blue, green: "gr/een"', 'servers.green', 'gr/een'],
  ])('refuses %s changed to %s, naming the key and the value', (from, to, key, shown) => {
    const message = problems(VALID.replace(from, to));
    expect(message).toContain(
      `services.api.traffic.haproxy.${key}: expected an HAProxy name of letters, digits, _ . or - (it is sent to the Runtime API as is), got "${shown}"`,
    );
  });

  it('accepts letters, digits, _ . and -', () => {
    expect(
      problems(
        VALID.replace('backend: api', 'backend: api_v2.be-1').replace(
          'blue: blue,',
          'blue: B_1.x-2,',
        ),
      ),
    ).toBe('');
  });
});

describe('deploy.env: what child processes may inherit', () => {
  const withEnv = (list: string) =>
    VALID.replace(
      'deploy: { command: ["./deploy.sh"] }',
      `deploy: { command: ["./deploy.sh"], env: ${list} }`,
    );

  it('accepts plain variable names', () => {
    expect(problems(withEnv('[KUBECONFIG, AWS_PROFILE]'))).toBe('');
  });

  it.each([['SLACK_BOT_TOKEN'], ['GREENLIGHT_AUDIT_TOKEN'], ['REDIS_URL']])(
    'refuses %s, one of Greenlight own settings or credentials',
    (name) => {
      expect(problems(withEnv(`[KUBECONFIG, ${name}]`))).toContain(
        `services.api.deploy.env.1: ${name} is Greenlight's own setting or credential (SLACK_*, GREENLIGHT_*, REDIS_URL) and never reaches a child process; remove it from deploy.env`,
      );
    },
  );

  it("refuses another service's webhook secret", () => {
    const yaml = `${withEnv('[HOOK_SECRET]')}  web:
    channel: C0RELEASES
    bootstrap: { production: blue, version: 1.0.0 }
    slots: { blue: { url: "http://127.0.0.1:4001" }, green: { url: "http://127.0.0.1:4002" } }
    deploy: { webhook: { url: "https://deploy.example.com/hook", secretEnv: HOOK_SECRET } }
    traffic: { haproxy: { runtimeApi: "127.0.0.1:9999", backend: web, servers: { blue: blue, green: green } } }
`;
    expect(problems(yaml)).toContain(
      'services.api.deploy.env.0: HOOK_SECRET is a deploy webhook secret (secretEnv) and never reaches a child process',
    );
  });

  it('refuses something that is not a variable name', () => {
    expect(problems(withEnv('["A B"]'))).toContain(
      'services.api.deploy.env.0: expected an environment variable name, got "A B"',
    );
  });
});

describe('dryRunGateCacheSeconds', () => {
  it('defaults to 60 and refuses a negative age', () => {
    expect(parseConfig(VALID).services.api?.dryRunGateCacheSeconds).toBe(60);
    expect(
      problems(VALID.replace('deploy: {', 'dryRunGateCacheSeconds: -1\n    deploy: {')),
    ).toContain('services.api.dryRunGateCacheSeconds');
  });
});
