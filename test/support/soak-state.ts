import type { Redis } from 'ioredis';

/**
 * Reading Greenlight's state back from Redis for the soak test, leniently: the test must judge a
 * core whose record shapes may grow, so only the fields the contract names are read, and
 * nothing from src/ is imported (the oracle must not share the code it judges).
 */

export type Slot = 'blue' | 'green';
export const SLOT_NAMES: readonly Slot[] = ['blue', 'green'];
export const other = (slot: Slot): Slot => (slot === 'blue' ? 'green' : 'blue');

export interface StoredService {
  readonly production: Slot;
  readonly slots: Record<Slot, { version: string | null; health?: string }>;
  readonly operation: {
    id?: string;
    kind: string;
    startedAt: string;
    releaseId?: string;
    version?: string;
    by?: string;
  } | null;
  readonly lastReleaseId: string | null;
  readonly revision: number;
  readonly [key: string]: unknown;
}

export interface StoredRelease {
  readonly id: string;
  readonly service: string;
  readonly version: string;
  readonly fromVersion: string;
  readonly type: string;
  readonly strategy: 'bluegreen' | 'canary';
  readonly requester: string;
  readonly requiredRoles: readonly string[];
  readonly approvals: readonly { role: string; user: string; at: string }[];
  readonly state: string;
  readonly fromSlot: Slot;
  readonly toSlot: Slot;
  readonly canary?: {
    steps: number[];
    stepIndex: number;
    stepStartedAt?: string;
    awaitingPromotion?: boolean;
    promptedAt?: string;
  };
  readonly observeUntil?: string;
  readonly paused?: { by: string; reason: string; at: string };
  readonly rollback?: { at: string; path?: string };
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly revision: number;
  readonly [key: string]: unknown;
}

export interface AuditRow {
  readonly id: string;
  readonly entry: {
    at: string;
    who?: string;
    what: string;
    service?: string;
    releaseId?: string;
    before?: unknown;
    after?: unknown;
    [key: string]: unknown;
  };
}

export const ACTIVE = ['awaiting_approval', 'switching', 'ramping', 'observing', 'rolling_back'];

export class SoakState {
  private readonly redis: Redis;
  private readonly prefix: string;

  constructor(redis: Redis, keyPrefix: string) {
    this.redis = redis;
    this.prefix = `{${keyPrefix}}`;
  }

  async service(name: string): Promise<StoredService | null> {
    const json = await this.redis.hget(`${this.prefix}:service:${name}`, 'json');
    return json === null ? null : (JSON.parse(json) as StoredService);
  }

  async release(id: string): Promise<StoredRelease | null> {
    const json = await this.redis.hget(`${this.prefix}:release:${id}`, 'json');
    return json === null ? null : (JSON.parse(json) as StoredRelease);
  }

  /** Every release of a service, oldest first. */
  async releases(service: string): Promise<StoredRelease[]> {
    const ids = await this.redis.zrange(`${this.prefix}:releases:${service}`, '0', '-1');
    const found = await Promise.all(ids.map((id) => this.release(id)));
    return found.filter((r): r is StoredRelease => r !== null);
  }

  async audit(afterId?: string): Promise<AuditRow[]> {
    const start = afterId ? `(${afterId}` : '-';
    const rows = await this.redis.xrange(`${this.prefix}:audit`, start, '+');
    return rows.map(([id, fields]) => {
      const at = fields.indexOf('entry');
      return { id, entry: JSON.parse(fields[at + 1] ?? '{}') as AuditRow['entry'] };
    });
  }

  /** The service record and its last release, read together (a revision pair for stability). */
  async view(name: string): Promise<ServiceView> {
    const service = await this.service(name);
    const last = service?.lastReleaseId ? await this.release(service.lastReleaseId) : null;
    return { name, service, last };
  }
}

export interface ServiceView {
  readonly name: string;
  readonly service: StoredService | null;
  readonly last: StoredRelease | null;
}

export const viewKey = (v: ServiceView) =>
  `${v.service?.revision ?? -1}/${v.last?.id ?? '-'}@${v.last?.revision ?? -1}`;

/** When the last required role was met (each role's first approval), or undefined. */
export function approvalCompletedAt(release: StoredRelease): number | undefined {
  const byRole = new Map<string, number>();
  for (const a of release.approvals ?? []) {
    if (!release.requiredRoles.includes(a.role)) continue;
    const at = Date.parse(a.at);
    byRole.set(a.role, Math.min(byRole.get(a.role) ?? Number.POSITIVE_INFINITY, at));
  }
  if (!release.requiredRoles.every((role) => byRole.has(role))) return undefined;
  return Math.max(0, ...byRole.values());
}

export function missingRoles(release: StoredRelease): string[] {
  const met = new Set((release.approvals ?? []).map((a) => a.role));
  return release.requiredRoles.filter((role) => !met.has(role));
}

/**
 * The oracle's desired traffic, in percent per slot, from the stored service and its last
 * release (the contract of the control loop, restated here independently of src/domain):
 * switching -> toSlot takes the target (blue/green 100, canary its current step);
 * ramping -> toSlot takes the current step; rolling_back -> fromSlot 100 when it still runs the
 * release's fromVersion, else production stays; anything else -> production 100.
 */
export function desiredSplit(
  view: ServiceView,
  configSteps: readonly number[],
): Record<Slot, number> | undefined {
  const { service, last } = view;
  if (service === null) return undefined;
  const all = (slot: Slot): Record<Slot, number> =>
    slot === 'blue' ? { blue: 100, green: 0 } : { blue: 0, green: 100 };
  const withTo = (to: Slot, percent: number): Record<Slot, number> =>
    ({ [to]: percent, [other(to)]: 100 - percent }) as Record<Slot, number>;
  const step = (r: StoredRelease) => {
    const steps = r.canary?.steps ?? configSteps;
    return steps[r.canary?.stepIndex ?? 0] ?? 100;
  };
  if (last === null) return all(service.production);
  switch (last.state) {
    case 'switching':
      return withTo(last.toSlot, last.strategy === 'canary' ? step(last) : 100);
    case 'ramping':
      return withTo(last.toSlot, step(last));
    case 'rolling_back':
      return service.slots[last.fromSlot]?.version === last.fromVersion
        ? all(last.fromSlot)
        : all(service.production);
    default:
      return all(service.production);
  }
}

export interface HaproxyServer {
  operational: number;
  admin: number;
  weight: number;
}

/** A slot serves when its admin state is ready (no maintenance, no drain) and its weight > 0. */
export function servedSplit(
  states: Record<string, HaproxyServer>,
): { split: Record<Slot, number>; raw: string } | undefined {
  const eff = (slot: Slot) => {
    const s = states[slot];
    if (s === undefined) return 0;
    const notReady = (s.admin & 0x3f) !== 0; // FMAINT IMAINT CMAINT FDRAIN IDRAIN RMAINT
    return notReady ? 0 : s.weight;
  };
  const total = eff('blue') + eff('green');
  const raw = SLOT_NAMES.map(
    (slot) =>
      `${slot}(w=${states[slot]?.weight},admin=${states[slot]?.admin},op=${states[slot]?.operational})`,
  ).join(' ');
  if (total === 0) return { split: { blue: 0, green: 0 }, raw };
  return {
    split: {
      blue: Math.round((eff('blue') / total) * 100),
      green: Math.round((eff('green') / total) * 100),
    },
    raw,
  };
}
