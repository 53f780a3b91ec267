import { describe, expect, it } from 'vitest';
import { ChildEnvironments, childEnv } from '../../../../src/adapters/process/child-env.ts';
import {
  configuredSecrets,
  REDACTED,
  secretRedactor,
} from '../../../../src/adapters/process/secret-redactor.ts';
import { parseConfig } from '../../../../src/config/load-config.ts';

const GREENLIGHT_ENV = {
  PATH: '/usr/bin:/bin',
  HOME: '/home/greenlight',
  LANG: 'de_DE.UTF-8',
  LC_TIME: 'en_GB.UTF-8',
  TZ: 'Europe/Berlin',
  SLACK_BOT_TOKEN: 'xoxb-secret-bot-token',
  SLACK_SIGNING_SECRET: 'signing-secret-value',
  SLACK_APP_TOKEN: 'xapp-secret-app-token',
  GREENLIGHT_AUDIT_TOKEN: 'audit-token-0123456789',
  GREENLIGHT_CONFIG: '/etc/greenlight/greenlight.yml',
  REDIS_URL: 'redis://:p%40ss-word-123@redis.internal:6379',
  HOOK_SECRET: 'webhook-hmac-secret-42',
  KUBECONFIG: '/home/greenlight/.kube/config',
  AWS_SECRET_ACCESS_KEY: 'not-listed-so-not-passed',
  NODE_OPTIONS: '--inspect',
};

const config = parseConfig(`alertsChannel: C0ALERTS
roles: { lead: [U0LEAD], security: [U0SEC], team: [U0DEV1], cto: [U0CTO] }
services:
  api:
    channel: C0RELEASES
    bootstrap: { production: blue, version: 2.4.0 }
    slots: { blue: { url: "http://127.0.0.1:3001" }, green: { url: "http://127.0.0.1:3002" } }
    deploy: { command: ["./deploy.sh"], env: [KUBECONFIG] }
    traffic: { haproxy: { runtimeApi: "127.0.0.1:9999", backend: api, servers: { blue: blue, green: green } } }
  web:
    channel: C0RELEASES
    bootstrap: { production: blue, version: 1.0.0 }
    slots: { blue: { url: "http://127.0.0.1:4001" }, green: { url: "http://127.0.0.1:4002" } }
    deploy: { webhook: { url: "https://deploy.example.com/hook", secretEnv: HOOK_SECRET } }
    traffic: { haproxy: { runtimeApi: "127.0.0.1:9999", backend: web, servers: { blue: blue, green: green } } }
`);

describe('the environment of child processes', () => {
  it('is PATH, HOME, the locale, what deploy.env names and the step variables, nothing else', () => {
    const env = new ChildEnvironments(GREENLIGHT_ENV, config.services).for('api', {
      GREENLIGHT_SERVICE: 'api',
      GREENLIGHT_VERSION: '2.4.1',
    });
    expect(env).toEqual({
      PATH: '/usr/bin:/bin',
      HOME: '/home/greenlight',
      LANG: 'de_DE.UTF-8',
      LC_TIME: 'en_GB.UTF-8',
      TZ: 'Europe/Berlin',
      KUBECONFIG: '/home/greenlight/.kube/config',
      GREENLIGHT_SERVICE: 'api',
      GREENLIGHT_VERSION: '2.4.1',
    });
  });

  it("never passes Greenlight's own variables or a webhook secret, even when listed", () => {
    const env = childEnv(
      GREENLIGHT_ENV,
      ['SLACK_BOT_TOKEN', 'GREENLIGHT_AUDIT_TOKEN', 'REDIS_URL', 'HOOK_SECRET', 'KUBECONFIG'],
      {},
      new Set(['HOOK_SECRET']),
    );
    expect(Object.keys(env).sort()).toEqual([
      'HOME',
      'KUBECONFIG',
      'LANG',
      'LC_TIME',
      'PATH',
      'TZ',
    ]);
  });

  it('lets the step variables win over inherited ones', () => {
    expect(childEnv({ PATH: '/bin' }, [], { PATH: '/opt/bin' }).PATH).toBe('/opt/bin');
  });
});

describe('the secret redactor', () => {
  const redact = secretRedactor(configuredSecrets(GREENLIGHT_ENV, config.services));

  it('removes every configured secret value from output', () => {
    const output = Object.entries(GREENLIGHT_ENV)
      .map(([k, v]) => `${k}=${v}`)
      .join('\n');
    const shown = redact(output);
    for (const secret of [
      'xoxb-secret-bot-token',
      'signing-secret-value',
      'xapp-secret-app-token',
      'audit-token-0123456789',
      'webhook-hmac-secret-42',
      'p%40ss-word-123',
      'p@ss-word-123',
    ])
      expect(shown).not.toContain(secret);
    expect(shown).toContain(`SLACK_BOT_TOKEN=${REDACTED}`);
    expect(shown).toContain(`HOOK_SECRET=${REDACTED}`);
    expect(shown).toContain(`REDIS_URL=redis://:${REDACTED}@redis.internal:6379`);
    // What is not a configured secret stays readable.
    expect(shown).toContain('KUBECONFIG=/home/greenlight/.kube/config');
  });

  it('removes a secret that contains another one whole', () => {
    const r = secretRedactor(['abc123', 'abc123-and-more']);
    expect(r('x abc123-and-more y abc123')).toBe(`x ${REDACTED} y ${REDACTED}`);
  });

  it('leaves text alone when nothing is configured', () => {
    expect(secretRedactor([])('plain')).toBe('plain');
  });
});
