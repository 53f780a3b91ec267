import { describe, expect, it } from 'vitest';
import type { Uses } from '../../../src/app/app-deps.ts';
import { ReleaseError } from '../../../src/app/release-error.ts';
import { freezeExceptionFor } from '../../../src/app/use-cases/start-release.ts';
import { parseConfig } from '../../../src/config/load-config.ts';

const FROZEN_AT = new Date('2026-11-28T12:00:00Z');
const OPEN_AT = new Date('2026-11-25T12:00:00Z');

function deps(now: Date, freezeException: string | undefined): Uses<'clock' | 'config'> {
  const config = parseConfig(`
timezone: Europe/Berlin
alertsChannel: C0ALERTS
roles: { lead: [U0LEAD], security: [S0SEC], team: [U0DEV1], cto: [U0CTO] }
freeze:
  - { from: "2026-11-27T00:00:00Z", to: "2026-12-01T00:00:00Z", reason: "Black Friday" }
${freezeException ? `freezeException: ${freezeException}` : ''}
services:
  api:
    channel: C0RELEASES
    bootstrap: { production: blue, version: 2.4.0 }
    slots: { blue: { url: "http://10.0.0.1" }, green: { url: "http://10.0.0.2" } }
    deploy: { command: [./deploy.sh] }
    traffic: { haproxy: { runtimeApi: "127.0.0.1:9999", backend: api, servers: { blue: b, green: g } } }
`);
  return { config, clock: { now: () => now } };
}

function outcome(
  now: Date,
  type: string,
  justification: string | undefined,
  role: string | undefined,
): string {
  try {
    const exception = freezeExceptionFor(deps(now, role), 'api', type, justification);
    return exception === undefined ? 'open' : `extra approval from ${exception.role}`;
  } catch (error) {
    if (error instanceof ReleaseError)
      return `refused: ${error.message.includes('justification') ? 'needs justification' : 'frozen'}`;
    throw error;
  }
}

describe('freeze × release type × justification × freezeException role', () => {
  it.each([
    [OPEN_AT, 'patch', undefined, 'cto', 'open'],
    [OPEN_AT, 'hotfix', undefined, 'cto', 'open'],
    [FROZEN_AT, 'patch', 'urgent', 'cto', 'refused: frozen'],
    [FROZEN_AT, 'minor', undefined, 'cto', 'refused: frozen'],
    [FROZEN_AT, 'hotfix', undefined, 'cto', 'refused: needs justification'],
    [FROZEN_AT, 'hotfix', '   ', 'cto', 'refused: needs justification'],
    [FROZEN_AT, 'hotfix', 'card payments down', 'cto', 'extra approval from cto'],
    [FROZEN_AT, 'hotfix', 'card payments down', undefined, 'refused: frozen'],
  ] as const)(
    'at %s a %s with justification %j and exception role %j: %s',
    (now, type, justification, role, expected) => {
      expect(outcome(now, type, justification, role)).toBe(expected);
    },
  );

  it('says when the freeze ends, in the team time zone, and how a hotfix passes', () => {
    try {
      freezeExceptionFor(deps(FROZEN_AT, 'cto'), 'api', 'patch', undefined);
      expect.unreachable();
    } catch (error) {
      expect((error as ReleaseError).message).toBe(
        'api is frozen until Tue 1 Dec 01:00 CET (Black Friday).',
      );
      expect((error as ReleaseError).hint).toBe(
        'A hotfix can pass with an approval from cto and a justification: /release api --justify <why>',
      );
    }
  });
});
