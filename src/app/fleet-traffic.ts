import { describeWeights, type SlotWeights, sameWeights } from '../domain/desired-traffic.ts';
import { type InstanceTraffic, PartialMoveError, type TrafficState } from './ports.ts';

/**
 * The load balancers of a fleet that do not send what is wanted, or cannot be read, in words:
 * `lb-2 (eu) sends green only; lb-3 (us) unreachable: …`. Empty for a single proxy.
 */
export function instancesOff(traffic: TrafficState, want: SlotWeights): string {
  return (traffic.instances ?? [])
    .filter((i) => i.state === undefined || !sameWeights(i.state.weights, want))
    .map((i) =>
      i.state === undefined
        ? `${i.name} (${i.region}) unreachable: ${i.error}`
        : `${i.name} (${i.region}) sends ${describeWeights(i.state.weights)}`,
    )
    .join('; ');
}

/** One line per load balancer of a fleet for `/release status`; none for a single proxy. */
export function instanceLines(traffic: TrafficState): string[] {
  return (traffic.instances ?? []).map((i) =>
    i.state === undefined
      ? `· ${i.name} (${i.region}): unreachable (${i.error})`
      : `· ${i.name} (${i.region}): ${describeWeights(i.state.weights)}; up: ${i.state.up.join(', ') || 'none'}`,
  );
}

/**
 * The load balancers of a fleet that could not be read, as a move that missed them: a move finds
 * nothing to do where the others already are, yet these may send users anywhere.
 */
export function unreadInstances(traffic: TrafficState): PartialMoveError | undefined {
  const silent = silentInstances(traffic);
  if (silent.length === 0) return undefined;
  return new PartialMoveError(
    `HAProxy ${silent.map((i) => `${i.name} (${i.region}): ${i.error}`).join('; ')}. The others are where they should be.`,
    silent.map((i) => `${i.name} (${i.region})`),
  );
}

/** The load balancers of a fleet that could not be read. */
export function silentInstances(traffic: TrafficState): InstanceTraffic[] {
  return (traffic.instances ?? []).filter((i) => i.state === undefined);
}
