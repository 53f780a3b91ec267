import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/config/config-error.ts';
import { parseConfig } from '../../../src/config/load-config.ts';
import { ringAudience, ringSteps } from '../../../src/domain/rings.ts';

const service = (
  extra: string,
  maps = 'audienceMaps: { header: /etc/h.map, source: /etc/s.map }',
) =>
  `alertsChannel: C0ALERTS
roles: { lead: [U0LEAD], security: [U0SEC], team: [U0DEV1], cto: [U0CTO] }
services:
  api:
    channel: C0RELEASES
    strategy: canary
    bootstrap: { production: blue, version: 2.4.0 }
    slots: { blue: { url: "http://127.0.0.1:3001" }, green: { url: "http://127.0.0.1:3002" } }
    deploy: { command: ["./deploy.sh"] }
    traffic: { haproxy: { runtimeApi: "127.0.0.1:9999", backend: api, servers: { blue: blue, green: green }, ${maps} } }
${extra}`;

const RINGS = `    rings:
      internal: { match: { header: X-Greenlight-Ring, values: [internal] }, soakMinutes: 60 }
      office: { match: { source: [10.0.0.0/8] }, soakMinutes: 30 }
      early: { percent: 10, soakMinutes: 1440 }
      all: { percent: 100, soakMinutes: 0 }
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

describe('rings in greenlight.yml', () => {
  it('walks audiences first (no share of everyone), then the percentages, in the order written', () => {
    const rings = parseConfig(service(RINGS)).services.api?.rings;
    expect(Object.keys(rings ?? {})).toEqual(['internal', 'office', 'early', 'all']);
    expect(ringSteps(rings ?? {})).toEqual([0, 0, 10, 100]);
  });

  it('accepts IPv4 and IPv6 addresses and networks as a source audience', () => {
    const networks = '[10.0.0.0/8, 192.168.1.7, "2001:db8::/32", "::1"]';
    const rings = parseConfig(service(RINGS.replace('[10.0.0.0/8]', networks))).services.api?.rings;
    expect(rings?.office?.match).toEqual({
      source: ['10.0.0.0/8', '192.168.1.7', '2001:db8::/32', '::1'],
    });
  });

  it.each([
    [RINGS.replace('percent: 100', 'percent: 50'), 'expected the last ring to reach everyone'],
    [RINGS.replace('percent: 10,', 'percent: 100,'), 'expected percentages that grow'],
    [
      RINGS.replace(
        '{ percent: 10, soakMinutes',
        '{ percent: 10, match: { source: [10.0.0.0/8] }, soakMinutes',
      ),
      'expected either match (an audience) or percent',
    ],
    [
      RINGS.replace('values: [internal]', 'values: ["a;b"]'),
      'sent to the HAProxy Runtime API as is',
    ],
    [RINGS.replace('10.0.0.0/8', 'everyone'), 'expected an IP address or CIDR'],
    [
      RINGS.replace('values: [internal, beta]', 'values: ["internal staff"]').replace(
        'values: [internal]',
        'values: ["internal staff"]',
      ),
      'sent to the HAProxy Runtime API as is',
    ],
    [
      RINGS.replace('values: [internal]', 'values: ["<@U0LEAD> hi"]'),
      'sent to the HAProxy Runtime API as is',
    ],
    [
      RINGS.replace('values: [internal]', 'values: ["a\\nset weight api/blue 0"]'),
      'sent to the HAProxy Runtime API as is',
    ],
    [RINGS.replace('10.0.0.0/8', '999.0.0.0/8'), 'expected an IP address or CIDR'],
    [RINGS.replace('10.0.0.0/8', '10.0.0.0/33'), 'expected an IP address or CIDR'],
    [RINGS.replace('10.0.0.0/8', 'cafe'), 'expected an IP address or CIDR'],
    [RINGS.replace('10.0.0.0/8', '"1"'), 'expected an IP address or CIDR'],
    [RINGS.replace('10.0.0.0/8', '"::::"'), 'expected an IP address or CIDR'],
    [RINGS.replace('10.0.0.0/8', '"2001:db8::/129"'), 'expected an IP address or CIDR'],
    [RINGS.replace('10.0.0.0/8', '"fe80::1%eth0"'), 'expected an IP address or CIDR'],
  ])('refuses a bad ring (%#)', (rings, message) => {
    expect(problems(service(rings))).toContain(message);
  });

  it('refuses rings on a blue/green service, and an audience without its map file', () => {
    expect(problems(service(RINGS).replace('strategy: canary', 'strategy: bluegreen'))).toContain(
      'rings walk a release ring by ring: set strategy: canary',
    );
    expect(problems(service(RINGS, 'audienceMaps: { header: /etc/h.map }'))).toContain(
      'an audience by source needs traffic.haproxy.audienceMaps.source',
    );
  });
});

describe('the audience a release wants', () => {
  const rings = parseConfig(service(RINGS)).services.api?.rings ?? {};
  const release = (state: string, stepIndex: number) =>
    ({ state, toSlot: 'green', canary: { steps: [0, 0, 10, 100], stepIndex } }) as never;

  it.each([
    ['awaiting_approval', -1, []],
    ['ramping', 0, ['header internal green']],
    ['ramping', 2, ['header internal green', 'source 10.0.0.0/8 green']],
    ['switching', 3, ['header internal green', 'source 10.0.0.0/8 green']],
    ['observing', 3, []],
    ['rolling_back', 2, []],
    ['rolled_back', 2, []],
  ])('%s at ring %i routes %j', (state, step, wanted) => {
    expect(
      ringAudience(rings, release(state as string, step as number)).map(
        (e) => `${e.kind} ${e.key} ${e.slot}`,
      ),
    ).toEqual(wanted);
  });
});
