import type { Release } from '../src/domain/release.ts';
import type { ServiceState } from '../src/domain/service-state.ts';

/**
 * Stored records for tests on in-memory ports: `api` 2.4.0 on blue, 2.4.1 on green, a patch
 * release from blue to green asked by U0DEV1. Tests state only what differs from that.
 */
export function releaseRecord(at: string, changes: Partial<Release> = {}): Release {
  return {
    id: 'rel-1',
    service: 'api',
    version: '2.4.1',
    fromVersion: '2.4.0',
    type: 'patch',
    strategy: 'bluegreen',
    requester: 'U0DEV1',
    requiredRoles: ['lead'],
    approvals: [],
    state: 'awaiting_approval',
    stateSince: at,
    fromSlot: 'blue',
    toSlot: 'green',
    timeline: [],
    createdAt: at,
    updatedAt: at,
    revision: 3,
    ...changes,
  };
}

export function serviceRecord(at: string, changes: Partial<ServiceState> = {}): ServiceState {
  return {
    service: 'api',
    production: 'blue',
    slots: {
      blue: { version: '2.4.0', health: 'healthy', updatedAt: at },
      green: { version: '2.4.1', health: 'healthy', updatedAt: at },
    },
    operation: { id: 'rel-1', kind: 'release', by: 'U0DEV1', startedAt: at, releaseId: 'rel-1' },
    lastReleaseId: 'rel-1',
    revision: 5,
    ...changes,
  };
}
