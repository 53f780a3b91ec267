import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/config/config-error.ts';
import { parseConfig } from '../../../src/config/load-config.ts';

const example = readFileSync(new URL('../../../greenlight.example.yml', import.meta.url), 'utf8');

function problemsOf(yaml: string): string[] {
  try {
    parseConfig(yaml);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((p) => `${p.path}: ${p.message}`);
    throw error;
  }
  return [];
}

describe('greenlight.yml', () => {
  it('accepts greenlight.example.yml, which shows every key', () => {
    const config = parseConfig(example);
    const api = config.services.api;
    expect(api?.strategy).toBe('bluegreen');
    expect(api?.bootstrap).toEqual({ production: 'blue', version: '2.4.0' });
    expect(api?.canary?.steps).toEqual([5, 20, 50, 100]);
    expect(api?.analysis?.maxErrorRatePercent).toBe(0.5);
    expect(api?.gates.map((g) => g.type)).toEqual(['http', 'command', 'env']);
    expect(config.freeze[0]?.reason).toBe('Black Friday');
  });

  it('fills the documented defaults for optional keys', () => {
    const config = parseConfig(`
alertsChannel: C0ALERTS
roles: { lead: [U0LEAD], security: [S0SEC], team: [U0DEV1], cto: [U0CTO] }
services:
  api:
    channel: C0RELEASES
    bootstrap: { production: green, version: 1.0.0 }
    slots: { blue: { url: "http://10.0.0.1" }, green: { url: "http://10.0.0.2" } }
    deploy: { command: [./deploy.sh] }
    traffic: { haproxy: { runtimeApi: /run/haproxy/admin.sock, backend: api, servers: { blue: b, green: g } } }
`);
    const api = config.services.api;
    expect(config.timezone).toBe('UTC');
    expect(api?.strategy).toBe('bluegreen');
    expect(api?.health).toEqual({
      path: '/healthz',
      expectStatus: 200,
      timeoutMs: 2000,
      successes: 2,
      intervalMs: 1000,
      readyTimeoutSeconds: 120,
    });
    expect(api?.versionPath).toBe('/version');
    expect(api?.deploy).toEqual({ command: ['./deploy.sh'], timeoutSeconds: 600, env: [] });
    expect(api?.dryRunGateCacheSeconds).toBe(60);
    expect(api?.progressIntervalMinutes).toBe(15);
    expect(api?.stabilityWindowMinutes).toBe(30);
  });

  it('reports a bad slot URL with its path and the value given', () => {
    const broken = example.replace('"http://127.0.0.1:3002"', '"localhost:3002"');
    expect(problemsOf(broken)).toEqual([
      'services.api.slots.green.url: expected an http(s) URL, got "localhost:3002"',
    ]);
  });

  it('lists every structural problem at once', () => {
    const broken = example
      .replace('"http://127.0.0.1:3002"', '"localhost:3002"')
      .replace('strategy: bluegreen', 'strategy: rainbow')
      .replace('timezone: Europe/Berlin', 'timezone: Mars/Olympus')
      .replace('version: 2.4.0', 'version: two')
      .replace('blockedDays: [fri]', 'blockedDays: [friday]');
    const found = problemsOf(broken);
    expect(found).toHaveLength(5);
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^services\.api\.strategy: .*"rainbow"/),
        'timezone: expected an IANA time zone such as Europe/Berlin, got "Mars/Olympus"',
        'services.api.bootstrap.version: expected a semantic version like 2.4.0, got "two"',
        expect.stringMatching(/^blockedDays\.0: .*"friday"/),
      ]),
    );
  });

  it('takes every time zone the runtime knows, canonical or alias, and refuses the rest', () => {
    for (const zone of [
      'Europe/Berlin',
      'UTC',
      'Etc/UTC',
      'Asia/Kolkata',
      'Asia/Calcutta',
      'US/Eastern',
    ]) {
      expect(
        problemsOf(example.replace('timezone: Europe/Berlin', `timezone: ${zone}`)),
        zone,
      ).toEqual([]);
      expect(
        parseConfig(example.replace('timezone: Europe/Berlin', `timezone: ${zone}`)).timezone,
      ).toBe(zone);
    }
    for (const zone of ['Europe/Berlinn', 'GMT+25', 'Berlin']) {
      expect(
        problemsOf(example.replace('timezone: Europe/Berlin', `timezone: ${zone}`)),
        zone,
      ).toEqual([`timezone: expected an IANA time zone such as Europe/Berlin, got "${zone}"`]);
    }
  });

  it('refuses approval rules that name a role nobody defined', () => {
    expect(problemsOf(example.replace('approvals: [lead]', 'approvals: [leed]'))).toEqual([
      'services.api.releaseTypes.patch.approvals.0: unknown role "leed"; define it under roles (known: lead, security, team, cto)',
    ]);
  });

  it('refuses default approval rules whose roles are not defined, saying how to fix it', () => {
    const found = problemsOf(example.replace('  cto: [U0CTO]\n', ''));
    expect(found).toEqual([
      'freezeException: unknown role "cto"; define it under roles (known: lead, security, team)',
      'services.api.releaseTypes.major: major releases need approval from cto by default; define roles.cto or set releaseTypes.major.approvals',
      'services.web.releaseTypes.major: major releases need approval from cto by default; define roles.cto or set releaseTypes.major.approvals',
    ]);
  });

  it('refuses channel names where a channel id is needed', () => {
    expect(problemsOf(example.replace('channel: C0RELEASES', 'channel: releases'))).toEqual([
      'services.api.channel: expected a Slack channel id (C…), not a #name, got "releases"',
    ]);
  });

  it('refuses a service named like a subcommand', () => {
    const found = problemsOf(example.replace('\n  api:\n', '\n  status:\n'));
    expect(found).toEqual([
      'services.status: is reserved by the commands (status, help, history, unmark), got "status"',
    ]);
  });

  it('refuses a freeze that ends before it starts, and unknown keys', () => {
    const found = problemsOf(
      example
        .replace('to: "2026-12-01T00:00:00Z"', 'to: "2026-11-01T00:00:00Z"')
        .replace('versionPath: /version', 'versionPath: /version\n    verisonPath: /v'),
    );
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^freeze\.0\.to: expected "from" to be before "to"/),
        'services.api.verisonPath: unknown key "verisonPath"; did you mean "versionPath"?',
      ]),
    );
  });

  it('points at the line and column of YAML syntax errors', () => {
    const found = problemsOf('alertsChannel: C0ALERTS\nroles: [unclosed\nservices: {}\n');
    expect(found[0]).toMatch(/^greenlight\.yml:\d+:\d+: /);
  });

  it('refuses canary steps that do not end at 100', () => {
    expect(problemsOf(example.replace('steps: [5, 20, 50, 100]', 'steps: [5, 20, 50]'))).toEqual([
      'services.api.canary.steps: expected the last step to be 100, got [5,20,50]',
    ]);
  });
});
