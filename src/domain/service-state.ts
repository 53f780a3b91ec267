import { otherSlot, type Slot } from './slots.ts';
import type { ReleaseType } from './version.ts';

export type SlotHealth = 'healthy' | 'unhealthy' | 'deploying' | 'failed' | 'unknown';

export interface SlotState {
  /** The version the slot runs, as last deployed or confirmed; null when never seen. */
  readonly version: string | null;
  readonly health: SlotHealth;
  /** Why the slot is failed or unhealthy, in words a person can act on. */
  readonly note?: string;
  /** The release type chosen at /bump (a hotfix stays a hotfix when released). */
  readonly releaseType?: ReleaseType;
  readonly updatedAt: string;
}

export type OperationKind = 'bump' | 'sync' | 'release' | 'rollback';

/** What is running on a service right now: at most one, so slots and traffic never race. */
export interface Operation {
  readonly id: string;
  readonly kind: OperationKind;
  readonly by: string;
  readonly startedAt: string;
  readonly version?: string;
  readonly releaseId?: string;
}

export interface ServiceState {
  readonly service: string;
  readonly production: Slot;
  readonly slots: Readonly<Record<Slot, SlotState>>;
  readonly operation: Operation | null;
  /** The most recent release, whatever its outcome: what /rollback acts on. */
  readonly lastReleaseId: string | null;
  /** What Greenlight last set on the proxy: a proxy that differs from it has drifted. */
  readonly traffic?: {
    readonly weights: Readonly<Record<Slot, number>>;
    readonly at: string;
    /** When the proxy process that took it had started (ms): a different one has reloaded. */
    readonly proxyStartedAt?: number;
  };
  /** Fencing number: bumped by every write, so a stale writer cannot overwrite a newer state. */
  readonly revision: number;
  /**
   * When this record was first written (bootstrap or adoption). A record adopted again after
   * Redis lost it starts its revisions over: this orders it after everything the lost one said.
   */
  readonly createdAt?: string;
}

export function standbyOf(state: ServiceState): Slot {
  return otherSlot(state.production);
}

/** The state of a service Redis knows nothing about yet, from greenlight.yml's `bootstrap`. */
export function bootstrapState(
  service: string,
  production: Slot,
  version: string,
  now: Date,
): ServiceState {
  const at = now.toISOString();
  return {
    service,
    production,
    slots: {
      [production]: { version, health: 'unknown', updatedAt: at },
      [otherSlot(production)]: { version: null, health: 'unknown', updatedAt: at },
    } as Record<Slot, SlotState>,
    operation: null,
    lastReleaseId: null,
    revision: 0,
    createdAt: at,
  };
}

export function withSlot(
  state: ServiceState,
  slot: Slot,
  change: Omit<SlotState, 'updatedAt'>,
  now: Date,
): ServiceState {
  return {
    ...state,
    slots: { ...state.slots, [slot]: { ...change, updatedAt: now.toISOString() } },
  };
}
