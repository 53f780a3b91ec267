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
 *   until then (it is being redeployed, or does not run what was recorded) traffic stays where
 *   PRODUCTION is.
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
      if (release.fromSlot === state.production)
        return {
          ...production,
          because: `release ${release.version} is rolling back: everyone back on PRODUCTION, ${state.production} (${release.fromVersion})`,
          releaseId,
        };
      if (awaitingRedeploy(state, release))
        return {
          ...production,
          because:
            release.failure === undefined
              ? `${release.fromSlot} does not run ${release.fromVersion} yet: users stay on PRODUCTION, ${state.production} (${release.version}), until the rollback has deployed it there`
              : `the rollback failed (${release.failure}): users stay on PRODUCTION, ${state.production} (${release.version}), until it is tried again (or /rollback ${release.service} is given again)`,
          releaseId,
        };
      return {
        weights: allOn(release.fromSlot),
        because: `release ${release.version} is rolling back to ${release.fromSlot} (${release.fromVersion})`,
        releaseId,
      };
    }
    default:
      return production;
  }
}

/**
 * Whether a rollback's old slot is not known to run the last good version (a /bump or /sync
 * changed it, or it is being redeployed): it takes no traffic until the rollback step has
 * redeployed and recorded it.
 */
export function awaitingRedeploy(state: ServiceState, release: Release): boolean {
  const slot = state.slots[release.fromSlot];
  return slot.version !== release.fromVersion || slot.health === 'deploying';
}

/**
 * Whether only the release's own step may move its traffic now: a switch onto STANDBY, and a
 * rollback's move onto an old slot that is not PRODUCTION, are checked by the step first (the
 * slot answers with the version and is healthy). Keeping users on PRODUCTION needs no check
 * (a rollback mid-switch or mid-canary, or one whose old slot is being brought back), so the
 * control loop does it too: while the step waits for its lock or deploys, and after a failed
 * rollback until its retry, a proxy reload or a hand edit is set back (unless the control loop
 * finds Redis older than the proxy: src/app/older-than-proxy.ts).
 */
export function stepOwnsTraffic(state: ServiceState, release: Release | null): boolean {
  if (release?.state === 'switching') return true;
  return (
    release?.state === 'rolling_back' &&
    release.fromSlot !== state.production &&
    !awaitingRedeploy(state, release)
  );
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
