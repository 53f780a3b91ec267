import { describe, expect, it } from 'vitest';
import { REDACTED } from '../../../src/adapters/process/secret-redactor.ts';
import { guardsFor } from '../../../src/composition/guards.ts';
import { parseConfig } from '../../../src/config/load-config.ts';
import { apiConfig } from '../../../testkit/api-config.ts';

const config = parseConfig(
  apiConfig({
    top: `comms:
  webhooks:
    - { url: "https://status.example.com/hook", secretEnv: STATUS_HOOK_SECRET }
flagProviders:
  unleash: { url: "https://unleash.example.com", tokenEnv: UNLEASH_ADMIN_TOKEN }`,
  }),
);

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
