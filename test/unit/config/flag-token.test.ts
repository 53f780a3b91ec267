import { describe, expect, it } from 'vitest';
import {
  configuredSecrets,
  REDACTED,
  secretRedactor,
} from '../../../src/adapters/process/secret-redactor.ts';
import { ConfigError } from '../../../src/config/config-error.ts';
import { parseConfig } from '../../../src/config/load-config.ts';

const YAML = (deployEnv: string, tokenEnv = '') => `
alertsChannel: C0ALERTS
roles: { lead: [U0LEAD], team: [U0DEV2], security: [U0SEC], cto: [U0CTO] }
flagProviders:
  unleash: { url: "http://127.0.0.1:4242"${tokenEnv} }
services:
  api:
    channel: C0RELEASES
    bootstrap: { production: blue, version: 2.4.0 }
    slots:
      blue: { url: "http://127.0.0.1:3001" }
      green: { url: "http://127.0.0.1:3002" }
    deploy: { command: ["./deploy.sh"], env: ${deployEnv} }
    traffic:
      haproxy: { runtimeApi: "127.0.0.1:9999", backend: api, servers: { blue: blue, green: green } }
    flags:
      - { name: new-checkout, environment: production }
`;

function problems(yaml: string): string {
  try {
    parseConfig(yaml);
    return '';
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
}

describe('the Unleash token', () => {
  it('is removed from text shown in Slack, under the variable tokenEnv names', () => {
    const config = parseConfig(YAML('[]', ', tokenEnv: FLAGS_TOKEN'));
    const env = { FLAGS_TOKEN: '*:*.unleash-secret-1234', UNLEASH_ADMIN_TOKEN: 'not-used' };
    const redact = secretRedactor(configuredSecrets(env, config.services, config.flagProviders));
    expect(redact('Unleash said: bad token *:*.unleash-secret-1234')).toBe(
      `Unleash said: bad token ${REDACTED}`,
    );
  });

  it('never reaches a child process: deploy.env may not list it', () => {
    expect(problems(YAML('[KUBECONFIG, UNLEASH_ADMIN_TOKEN]'))).toContain(
      'services.api.deploy.env.1: UNLEASH_ADMIN_TOKEN is the flag provider token (flagProviders.unleash.tokenEnv) and never reaches a child process',
    );
    expect(problems(YAML('[KUBECONFIG]'))).toBe('');
  });
});
