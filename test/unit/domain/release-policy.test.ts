import { describe, expect, it } from 'vitest';
import type { Release } from '../../../src/domain/release.ts';
import { transition } from '../../../src/domain/release-machine.ts';
import {
  DEFAULT_RELEASE_TYPES,
  releaseTypeRule,
  rolesHeldBy,
} from '../../../src/domain/release-policy.ts';
import type { ReleaseType } from '../../../src/domain/version.ts';

const NOW = new Date('2026-11-24T10:00:00Z');
const members = {
  lead: ['U0LEAD'],
  security: ['U0SEC1', 'U0LEAD'],
  team: ['U0DEV1', 'U0DEV2'],
  cto: ['U0CTO'],
};

function releaseOf(type: ReleaseType, requester: string): Release {
  return {
    id: 'rel-1',
    service: 'api',
    version: '2.4.1',
    fromVersion: '2.4.0',
    type,
    strategy: 'bluegreen',
    requester,
    requiredRoles: releaseTypeRule(type, undefined).approvals,
    approvals: [],
    state: 'awaiting_approval',
    fromSlot: 'blue',
    toSlot: 'green',
    timeline: [],
    createdAt: NOW.toISOString(),
    updatedAt: NOW.toISOString(),
    revision: 1,
  };
}

/** Everyone in `clickers` clicks Approve in turn; returns the state and who got refused. */
function approveAll(release: Release, clickers: string[]): { state: string; refused: string[] } {
  let current = release;
  const refused: string[] = [];
  for (const user of clickers) {
    try {
      current = transition(
        current,
        { type: 'approve', user, roles: rolesHeldBy(user, members) },
        NOW,
      ).release;
    } catch {
      refused.push(user);
    }
  }
  return { state: current.state, refused };
}

describe('release type × roles × requester', () => {
  it.each([
    ['patch', 'U0DEV1', ['U0LEAD'], 'switching', []],
    ['patch', 'U0LEAD', ['U0LEAD', 'U0SEC1'], 'awaiting_approval', ['U0LEAD', 'U0SEC1']],
    ['hotfix', 'U0DEV1', ['U0LEAD', 'U0SEC1'], 'switching', []],
    // U0LEAD holds lead and security, but one person fills one role.
    ['hotfix', 'U0DEV1', ['U0LEAD', 'U0LEAD'], 'awaiting_approval', ['U0LEAD']],
    ['minor', 'U0DEV1', ['U0DEV1', 'U0DEV2'], 'switching', ['U0DEV1']],
    ['major', 'U0DEV1', ['U0DEV2', 'U0CTO'], 'switching', []],
    ['major', 'U0CTO', ['U0DEV2', 'U0CTO'], 'awaiting_approval', ['U0CTO']],
    ['minor', 'U0DEV1', ['U0CTO'], 'awaiting_approval', ['U0CTO']],
  ] as [ReleaseType, string, string[], string, string[]][])(
    '%s requested by %s, approvals by %j -> %s (refused %j)',
    (type, requester, clickers, state, refused) => {
      expect(approveAll(releaseOf(type, requester), clickers)).toEqual({ state, refused });
    },
  );

  it('uses the documented defaults, and a service override replaces them type by type', () => {
    expect(DEFAULT_RELEASE_TYPES).toEqual({
      hotfix: { approvals: ['lead', 'security'], rollbackWindowMinutes: 120 },
      patch: { approvals: ['lead'], rollbackWindowMinutes: 240 },
      minor: { approvals: ['team'], rollbackWindowMinutes: 1440 },
      major: { approvals: ['cto', 'team'], rollbackWindowMinutes: 4320 },
    });
    const overrides = { patch: { approvals: ['team'], rollbackWindowMinutes: 30 } };
    expect(releaseTypeRule('patch', overrides)).toEqual({
      approvals: ['team'],
      rollbackWindowMinutes: 30,
    });
    expect(releaseTypeRule('minor', overrides)).toEqual(DEFAULT_RELEASE_TYPES.minor);
  });
});
