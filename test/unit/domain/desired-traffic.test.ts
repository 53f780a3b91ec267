import { describe, expect, it } from 'vitest';
import { desiredTraffic, stepOwnsTraffic } from '../../../src/domain/desired-traffic.ts';
import type { Release, ReleaseState } from '../../../src/domain/release.ts';
import type { ServiceState } from '../../../src/domain/service-state.ts';

const AT = '2026-11-24T10:00:00.000Z';

function service(production: 'blue' | 'green', blueVersion = '2.4.0'): ServiceState {
  return {
    service: 'api',
    production,
    slots: {
      blue: { version: blueVersion, health: 'healthy', updatedAt: AT },
      green: { version: '2.4.1', health: 'healthy', updatedAt: AT },
    },
    operation: null,
    lastReleaseId: 'rel-1',
    revision: 3,
  };
}

function release(state: ReleaseState, stepIndex?: number): Release {
  return {
    id: 'rel-1',
    service: 'api',
    version: '2.4.1',
    fromVersion: '2.4.0',
    type: 'patch',
    strategy: stepIndex === undefined ? 'bluegreen' : 'canary',
    requester: 'U0DEV1',
    requiredRoles: ['lead'],
    approvals: [],
    state,
    fromSlot: 'blue',
    toSlot: 'green',
    ...(stepIndex === undefined
      ? {}
      : { canary: { steps: [5, 20, 100], stepIndex, stepStartedAt: AT } }),
    timeline: [],
    createdAt: AT,
    updatedAt: AT,
    revision: 2,
  };
}

// Oracle: written out by hand from DESIGN.md's control loop, not computed.
describe('desired traffic', () => {
  it.each([
    ['no release: PRODUCTION takes all', service('blue'), null, { blue: 100, green: 0 }],
    [
      'waiting for approval',
      service('blue'),
      release('awaiting_approval'),
      { blue: 100, green: 0 },
    ],
    ['blue/green switching', service('blue'), release('switching'), { blue: 0, green: 100 }],
    [
      'canary switching to step 0',
      service('blue'),
      release('switching', 0),
      { blue: 95, green: 5 },
    ],
    ['canary ramping at step 1', service('blue'), release('ramping', 1), { blue: 80, green: 20 }],
    ['canary switching to 100', service('blue'), release('switching', 2), { blue: 0, green: 100 }],
    ['observing on the new slot', service('green'), release('observing'), { blue: 0, green: 100 }],
    ['released', service('green'), release('released'), { blue: 0, green: 100 }],
    [
      'failed: PRODUCTION unchanged',
      service('blue'),
      release('failed', 1),
      { blue: 100, green: 0 },
    ],
    [
      'rolling back to a warm slot',
      service('green'),
      release('rolling_back'),
      { blue: 100, green: 0 },
    ],
    [
      'rolling back mid-canary',
      service('blue'),
      release('rolling_back', 1),
      { blue: 100, green: 0 },
    ],
    [
      'rolling back while the old slot is redeployed: stays put',
      service('green', '2.5.0'),
      release('rolling_back'),
      { blue: 0, green: 100 },
    ],
    ['rolled back', service('blue'), release('rolled_back'), { blue: 100, green: 0 }],
  ] as const)('%s', (_name, state, rel, weights) => {
    expect(desiredTraffic(state, rel).weights).toEqual(weights);
  });
});

// Oracle: a step checks the slot before traffic goes onto it (DESIGN.md, rollback); keeping users
// where they are needs no check.
describe('whose move it is', () => {
  it.each([
    ['a switch: its step', service('blue'), release('switching'), true],
    ['a rollback onto a warm old slot: its step', service('green'), release('rolling_back'), true],
    [
      'a rollback whose old slot is brought back: the control loop keeps users on PRODUCTION',
      service('green', '2.5.0'),
      release('rolling_back'),
      false,
    ],
    [
      'a rollback mid-canary: the control loop keeps users on PRODUCTION',
      service('blue'),
      release('rolling_back', 1),
      false,
    ],
    ['a canary ramping: the control loop', service('blue'), release('ramping', 1), false],
    ['released: the control loop', service('green'), release('released'), false],
  ] as const)('%s', (_name, state, rel, owned) => {
    expect(stepOwnsTraffic(state, rel)).toBe(owned);
  });
});
