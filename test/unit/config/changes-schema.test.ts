import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/config/config-error.ts';
import { parseConfig } from '../../../src/config/load-config.ts';

const withChanges = (changes: string) => `
alertsChannel: C0ALERTS
roles: { lead: [U0LEAD], security: [S0SEC], team: [U0DEV1], cto: [U0CTO] }
services:
  api:
    channel: C0RELEASES
    bootstrap: { production: blue, version: 2.4.0 }
    slots: { blue: { url: "http://10.0.0.1" }, green: { url: "http://10.0.0.2" } }
    deploy: { command: [./deploy.sh] }
    traffic: { haproxy: { runtimeApi: /run/haproxy/admin.sock, backend: api, servers: { blue: b, green: g } } }
    changes: ${changes}
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

describe('changes.git', () => {
  it('fills the tag pattern and timeout, and drops a trailing slash from webUrl', () => {
    const api = parseConfig(
      withChanges('{ git: { repo: ../api, webUrl: "https://gitlab.com/acme/api/" } }'),
    ).services.api;
    expect(api?.changes?.git).toEqual({
      repo: '../api',
      tagPattern: 'v{version}',
      webUrl: 'https://gitlab.com/acme/api',
      timeoutSeconds: 30,
    });
  });

  it('is optional', () => {
    expect(
      parseConfig(withChanges('{ git: { repo: x } }').replace(/\n {4}changes:.*\n/, '\n')).services
        .api?.changes,
    ).toBeUndefined();
  });

  it.each([
    ['{ git: { repo: "--upload-pack=touch /tmp/x" } }', 'services.api.changes.git.repo'],
    ['{ git: { repo: x, tagPattern: "release" } }', 'services.api.changes.git.tagPattern'],
    ['{ git: { repo: x, tagPattern: "v{version} x" } }', 'services.api.changes.git.tagPattern'],
    ['{ git: { repo: x, webUrl: "javascript:alert(1)" } }', 'services.api.changes.git.webUrl'],
    ['{ git: { repo: x, forge: bitbucket } }', 'services.api.changes.git.forge'],
    ['{ git: { repo: x, extra: 1 } }', 'services.api.changes.git'],
  ])('refuses %s', (changes, path) => {
    expect(problemsOf(withChanges(changes)).join('\n')).toContain(path);
  });
});
