import { type DesiredTraffic, describeWeights } from '../domain/desired-traffic.ts';
import type { Release } from '../domain/release.ts';
import type { ServiceState } from '../domain/service-state.ts';
import type { Slot } from '../domain/slots.ts';
import { answered } from './answered.ts';
import type { Uses } from './app-deps.ts';
import type { TrafficState } from './ports.ts';

// Whether the proxy is newer than Redis: then a difference is not drift to correct.

/** A release whose record says it never went live, or not yet. */
const NOT_LIVE_ON_RECORD: readonly Release['state'][] = [
  'awaiting_approval',
  'running_steps',
  'switching',
  'rejected',
  'cancelled',
];

/**
 * The proxy process Greenlight recorded is the one running now. A record from before process
 * starts carried the pid (whole seconds, no milliseconds) matches any process of that second:
 * an upgrade in the middle of a standoff must not turn it into a rollback on stale data. The
 * reconciler rewrites such a record on its next in-sync pass.
 */
function sameProxy(recorded: number, started: number): boolean {
  return recorded === started || (recorded % 1000 === 0 && recorded === started - (started % 1000));
}

/** A rollback's reads of each slot's version: an answer that agrees with itself, not a lucky one. */
const ROLLBACK_READS = 3;

/**
 * Where the proxy would already send users had the release gone further than its record says,
 * with the version that slot would run and the shares it would have: the release's own slot (all
 * of it, or one of its canary steps) for one that never went live on record; the old slot, all
 * of it, for a rollback whose record is older than its end, whose versions are read several
 * times (`reads`), since a hand edit shows much the same.
 */
function aheadOnRecord(release: Release) {
  if (NOT_LIVE_ON_RECORD.includes(release.state))
    return {
      slot: release.toSlot,
      version: release.version,
      shares: [100, ...(release.canary?.steps ?? [])],
      recordSays: release.state.replace('_', ' '),
      reads: 1,
    };
  if (release.state === 'rolling_back')
    return {
      slot: release.fromSlot,
      version: release.fromVersion,
      shares: [100],
      recordSays: `not back yet: the rollback of ${release.version} has not ended`,
      reads: ROLLBACK_READS,
    };
  return undefined;
}

/**
 * The version `slot` answers on every one of `reads` reads (each tried as `answered` does), or
 * undefined when one does not answer or they disagree: a /version behind several instances, some
 * still on another version, must not pass for one that runs a version throughout.
 */
async function steadyVersion(
  deps: Uses<'probe' | 'sleep'>,
  service: string,
  slot: Slot,
  reads: number,
): Promise<string | undefined> {
  const seen = new Set<string>();
  for (let i = 0; i < reads; i += 1) {
    const answer = await answered(
      deps,
      () => deps.probe.version(service, slot).catch(() => undefined),
      (r) => r?.ok === true,
    );
    if (!answer?.ok) return undefined;
    seen.add(answer.version);
  }
  return seen.size === 1 ? [...seen][0] : undefined;
}

/**
 * Proof that a rollback's record is older than its end, beyond what a hand edit onto the old
 * slot shows: PRODUCTION on record answers another version than recorded on every read (a /bump
 * after the rollback ended), and the old slot is healthy. Says so, or undefined.
 */
async function changedSinceRollback(
  deps: Uses<'probe' | 'sleep'>,
  state: ServiceState,
  release: Release,
): Promise<string | undefined> {
  const recorded = state.slots[state.production].version;
  if (recorded === null) return undefined;
  const now = await steadyVersion(deps, release.service, state.production, ROLLBACK_READS);
  if (now === undefined || now === recorded) return undefined;
  const health = await answered(
    deps,
    () => deps.probe.health(release.service, release.fromSlot).catch(() => ({ ok: false })),
    (r) => r.ok,
  );
  if (!health.ok) return undefined;
  return `, and ${state.production}, PRODUCTION on record with ${recorded}, answers ${now}`;
}

/**
 * Redis restored from an older snapshot (or a write lost with the last second of an AOF) can
 * say a release never went live while the proxy already serves it, or that a rollback has not
 * ended while users are already back. Then the proxy is newer than Redis and "correcting" it
 * would move production on stale data: the proxy gives the slot more traffic than Redis wants,
 * a share the release itself would have set, and that slot runs exactly the version it would
 * (for a rollback, with the proof of `changedSinceRollback`). Returns what the proxy and the
 * slots show (the caller says what it does about it), or undefined when the difference is
 * ordinary drift.
 */
export async function olderThanProxy(
  deps: Uses<'probe' | 'traffic' | 'sleep'>,
  state: ServiceState,
  release: Release | null,
  actual: TrafficState,
  desired: DesiredTraffic,
): Promise<string | undefined> {
  const ahead = release === null ? undefined : aheadOnRecord(release);
  if (release === null || ahead === undefined) return undefined;
  const share = actual.weights[ahead.slot];
  if (share <= desired.weights[ahead.slot]) return undefined;
  // Only a split the release itself would have set; anything else is a hand edit or a reload,
  // and is corrected as drift.
  if (!ahead.shares.includes(share)) return undefined;
  // A proxy that restarted since Greenlight last recorded it shows its configuration's defaults,
  // not anything newer than Redis: that is drift. Unknown start (a command driver): drift too.
  // Asked first: it is one cheap read, and a reload rules out everything else.
  const startedAt = deps.traffic.startedAt?.bind(deps.traffic);
  const started =
    startedAt === undefined
      ? undefined
      : await answered(
          deps,
          () => startedAt(release.service).catch(() => undefined),
          (d) => d !== undefined,
        );
  const recorded = state.traffic?.proxyStartedAt;
  if (started === undefined || recorded === undefined || !sameProxy(recorded, started.getTime()))
    return undefined;
  if ((await steadyVersion(deps, release.service, ahead.slot, ahead.reads)) !== ahead.version)
    return undefined;
  const since =
    release.state === 'rolling_back' ? await changedSinceRollback(deps, state, release) : '';
  if (since === undefined) return undefined;
  return `The proxy sends ${describeWeights(actual.weights)} for ${release.service}: ${ahead.slot} runs ${ahead.version}, which Greenlight's records say is ${ahead.recordSays}${since}. Redis looks older than the proxy (restored from a snapshot?)`;
}
