/** The traffic ports: what a load balancer (or a fleet of them) is asked and told. */
import type { AudienceEntry } from '../domain/rings.ts';
import { SLOTS, type Slot } from '../domain/slots.ts';
import type { Lease } from './lock-ports.ts';

export interface TrafficState {
  /** Slots that take new requests now (admin ready, weight above 0). */
  readonly serving: readonly Slot[];
  /** Share of new requests per slot in percent (0 for a slot that takes none). */
  readonly weights: Readonly<Record<Slot, number>>;
  /** Slots HAProxy's own health checks see as up. */
  readonly up: readonly Slot[];
  /**
   * Several load balancers (a fleet): each one's own state, or why it could not be read. The
   * fields above then combine the readable ones: a slot any of them serves is serving; the
   * weights are theirs when they agree, and otherwise never add up to 100 (so they differ from
   * any desired weights); a slot is up only where every one sees it up.
   */
  readonly instances?: readonly InstanceTraffic[];
}

/** One load balancer of a fleet, as read now. */
export interface InstanceTraffic {
  readonly name: string;
  readonly region: string;
  readonly state?: Omit<TrafficState, 'instances'>;
  /** Set when the instance could not be read. */
  readonly error?: string;
}

/** How a move across several load balancers ends when one of them cannot be moved. */
export interface MoveOptions {
  /**
   * `restore`: a forward move (a release switching or ramping) is undone on the instances it
   * reached; `keep` (default): a move to known-good traffic keeps what it reached.
   */
  readonly onPartialFailure?: 'restore' | 'keep';
  /**
   * The traffic lock the move is made under. A move can last (a region soaks before the next,
   * a slot is waited for): the driver asks it before each change, and stops if it lapsed.
   */
  readonly lease?: Lease;
}

/** The traffic switch (HAProxy's Runtime API, or a command). */
export interface TrafficSwitcher {
  inspect(service: string): Promise<TrafficState>;
  /**
   * Moves all new traffic to `slot` with zero downtime and keeps the other slot warm. Idempotent:
   * checks the proxy's state first and changes nothing when traffic is already there.
   */
  switchTo(service: string, slot: Slot, options?: MoveOptions): Promise<{ changed: boolean }>;
  /**
   * Canary: `slot` gets `percent` of new requests and the other slot the rest, both ready.
   * Idempotent like switchTo.
   */
  split(
    service: string,
    slot: Slot,
    percent: number,
    options?: MoveOptions,
  ): Promise<{ changed: boolean }>;
  /**
   * When the proxy process last started, where the driver can tell: a proxy started after
   * Greenlight last set it has lost what was set (a reload), whatever it shows now. Only compared
   * for equality, so two processes must never give the same value (HAProxy's is to the second,
   * and its adapter adds the pid).
   */
  startedAt?(service: string): Promise<Date | undefined>;
  /** Rings: the audience entries (who goes to which slot) the proxy holds now. */
  audience?(service: string): Promise<AudienceEntry[]>;
  /** Rings: makes the proxy's audience entries exactly these, on every load balancer. */
  setAudience?(service: string, entries: readonly AudienceEntry[]): Promise<void>;
}

/**
 * Moves `switcher` to `weights`: everyone onto one slot, or a split that names the slot with the
 * smaller share as the canary.
 */
export function setWeights(
  switcher: Pick<TrafficSwitcher, 'switchTo' | 'split'>,
  service: string,
  weights: Readonly<Record<Slot, number>>,
  options?: MoveOptions,
): Promise<{ changed: boolean }> {
  const full = SLOTS.find((slot) => weights[slot] >= 100);
  if (full !== undefined) return switcher.switchTo(service, full, options);
  const canary: Slot = weights.green <= weights.blue ? 'green' : 'blue';
  return switcher.split(service, canary, weights[canary], options);
}

/**
 * A move back to known-good traffic that reached every load balancer but `missed`: those may
 * still send users to the version being left, until the reconciler reaches them.
 */
export class PartialMoveError extends Error {
  readonly missed: readonly string[];
  constructor(message: string, missed: readonly string[]) {
    super(message);
    this.name = 'PartialMoveError';
    this.missed = missed;
  }
}

/**
 * A forward move that reached users on some load balancers and was stopped because another could
 * not follow (or one failed its check after its region's soak); it was undone where it could be.
 * Trying the whole move again would send those users back and forth once more, or skip the soak
 * of a region still on the new version, so it is not retried: the switch fails.
 */
export class MoveUndoneError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MoveUndoneError';
  }
}
