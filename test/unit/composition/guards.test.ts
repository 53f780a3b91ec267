import { describe, expect, it } from 'vitest';
import { REDACTED } from '../../../src/adapters/process/secret-redactor.ts';
import { guardsFor } from '../../../src/composition/guards.ts';
import { parseConfig } from '../../../src/config/load-config.ts';

const config = parseConfig(`
alertsChannel: C0ALERTS
roles: { lead: [U0LEAD], team: [U0DEV2], security: [U0SEC], cto: [U0CTO] }
comms:
  webhooks:
    - { url: "https://status.example.com/hook", secretEnv: STATUS_HOOK_SECRET }
flagProviders:
  unleash: { url: "https://unleash.example.com", tokenEnv: UNLEASH_ADMIN_TOKEN }
services:
  api:
    channel: C0RELEASES
    bootstrap: { production: blue, version: 2.4.0 }
    slots: { blue: { url: "http://127.0.0.1:3001" }, green: { url: "http://127.0.0.1:3002" } }
    deploy: { command: ["./deploy.sh"] }
    traffic: { haproxy: { runtimeApi: "127.0.0.1:9999", backend: api, servers: { blue: blue, green: green } } }
`);

const env = {
  PATH: '/usr/bin:/bin',
  SLACK_BOT_TOKEN: 'xoxb-bot-token-value',
  STATUS_HOOK_SECRET: 'status-page-hmac-secret',
  UNLEASH_ADMIN_TOKEN: 'user:unleash-admin-token-value',
};

describe('child-process guards of the composition root', () => {
  it('redacts the webhook secret and the flag token from any runner output, beside the own secrets', () => {
    const { redact } = guardsFor(config, env);
    const output = `token=${env.UNLEASH_ADMIN_TOKEN} hook=${env.STATUS_HOOK_SECRET} bot=${env.SLACK_BOT_TOKEN}`;
    expect(redact(output)).toBe(`token=${REDACTED} hook=${REDACTED} bot=${REDACTED}`);
  });

  it('is built once per config: every runner shares the same guards', () => {
    expect(guardsFor(config, env)).toBe(guardsFor(config, env));
  });
});
