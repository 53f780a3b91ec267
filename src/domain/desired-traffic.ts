import { ACTIVE_STATES, type Release } from './release.ts';
import type { ServiceState } from './service-state.ts';
import { otherSlot, SLOTS, type Slot } from './slots.ts';

/** Share of new requests per slot, in percent; the two always add up to 100. */
export type SlotWeights = Readonly<Record<Slot, number>>;

/**
 * What the proxy should do for a service now. Weights are per slot today; audiences (rings) and
 * several load balancers per service join as further fields, each derived the same way.
 */
export interface DesiredTraffic {
  readonly weights: SlotWeights;
  /** Why, in words, for drift reports and the audit trail. */
  readonly because: string;
  /** The release that decides it, when one is active. */
  readonly releaseId?: string;
}

export function allOn(slot: Slot): SlotWeights {
  return { [slot]: 100, [otherSlot(slot)]: 0 } as Record<Slot, number>;
}

export function splitTo(slot: Slot, percent: number): SlotWeights {
  const share = Math.max(0, Math.min(100, percent));
  return { [slot]: share, [otherSlot(slot)]: 100 - share } as Record<Slot, number>;
}

/** The canary weight a release's current step asks for (100 for blue/green). */
export function targetWeight(release: Release): number {
  if (release.canary === undefined) return 100;
  return release.canary.steps[Math.max(0, release.canary.stepIndex)] ?? 100;
}

/**
 * Desired traffic, derived from the stored service and its last release, never remembered:
 * - no active release: PRODUCTION takes everything;
 * - switching or ramping: the release's slot takes its step's share (blue/green: all);
 * - rolling back: the previous PRODUCTION takes everything once it runs the last good version;
 *   until then (it is being redeployed) traffic stays where PRODUCTION is.
 */
export function desiredTraffic(state: ServiceState, release: Release | null): DesiredTraffic {
  const production: DesiredTraffic = {
    weights: allOn(state.production),
    because: `PRODUCTION is ${state.production}`,
  };
  if (release === null || !ACTIVE_STATES.includes(release.state)) return production;
  const releaseId = release.id;
  switch (release.state) {
    case 'awaiting_approval':
    case 'running_steps':
    case 'observing':
      return { ...production, releaseId };
    case 'switching':
    case 'ramping': {
      const weight = targetWeight(release);
      return {
        weights: splitTo(release.toSlot, weight),
        because: `release ${release.version} ${release.state === 'switching' ? 'is switching' : 'ramps'} to ${weight} % on ${release.toSlot}`,
        releaseId,
      };
    }
    case 'rolling_back': {
      const target = state.slots[release.fromSlot];
      if (target.version === release.fromVersion && target.health !== 'deploying') {
        return {
          weights: allOn(release.fromSlot),
          because: `release ${release.version} is rolling back to ${release.fromSlot} (${release.fromVersion})`,
          releaseId,
        };
      }
      return {
        ...production,
        because: `${release.fromSlot} is being brought back to ${release.fromVersion}; PRODUCTION stays on ${state.production} until then`,
        releaseId,
      };
    }
    default:
      return production;
  }
}

export function sameWeights(a: SlotWeights, b: SlotWeights): boolean {
  return SLOTS.every((slot) => Math.abs(a[slot] - b[slot]) < 1);
}

export function describeWeights(weights: SlotWeights): string {
  const serving = SLOTS.filter((slot) => weights[slot] > 0);
  if (serving.length === 0) return 'no slot';
  if (serving.length === 1) return `${serving[0]} only`;
  return SLOTS.map((slot) => `${slot} ${weights[slot]} %`).join(', ');
}
