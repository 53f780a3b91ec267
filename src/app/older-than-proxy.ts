import { type DesiredTraffic, describeWeights } from '../domain/desired-traffic.ts';
import type { Release } from '../domain/release.ts';
import type { ServiceState } from '../domain/service-state.ts';
import { defaultSleep, type Uses } from './app-deps.ts';
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
 * A read that decides whether traffic moves, tried up to three times half a second apart: a slot
 * or proxy that did not answer (a starved process, a reload) says nothing about what is live.
 */
async function answered<T>(
  deps: Uses<'sleep'>,
  read: () => Promise<T>,
  ok: (value: T) => boolean,
): Promise<T> {
  let value = await read();
  for (let attempt = 1; attempt < 3 && !ok(value); attempt += 1) {
    await (deps.sleep ?? defaultSleep)(500);
    value = await read();
  }
  return value;
}

/**
 * The proxy process Greenlight recorded is the one running now. A record from before process
 * starts carried the pid (whole seconds, no milliseconds) matches any process of that second:
 * an upgrade in the middle of a standoff must not turn it into a rollback on stale data. The
 * reconciler rewrites such a record on its next in-sync pass.
 */
function sameProxy(recorded: number, started: number): boolean {
  return recorded === started || (recorded % 1000 === 0 && recorded === started - (started % 1000));
}

/**
 * Redis restored from an older snapshot (or a write lost with the last second of an AOF) can
 * say a release never went live while the proxy already serves it. Then the proxy is newer than
 * Redis and "correcting" it would roll production back on stale data: the proxy gives the
 * release's slot more traffic than Redis wants, and that slot runs exactly the release's version.
 * Returns the report to post, or undefined when the difference is ordinary drift.
 */
export async function olderThanProxy(
  deps: Uses<'probe' | 'traffic' | 'sleep'>,
  state: ServiceState,
  release: Release | null,
  actual: TrafficState,
  desired: DesiredTraffic,
): Promise<string | undefined> {
  if (release === null || !NOT_LIVE_ON_RECORD.includes(release.state)) return undefined;
  const share = actual.weights[release.toSlot];
  if (share <= desired.weights[release.toSlot]) return undefined;
  // Only a split the release itself would have set (all of it, or one of its canary steps);
  // anything else is a hand edit or a reload, and is corrected as drift.
  if (share !== 100 && !(release.canary?.steps ?? []).includes(share)) return undefined;
  const reported = await answered(
    deps,
    () => deps.probe.version(release.service, release.toSlot).catch(() => undefined),
    (r) => r?.ok === true,
  );
  if (!reported?.ok || reported.version !== release.version) return undefined;
  // A proxy that restarted since Greenlight last recorded it shows its configuration's defaults,
  // not anything newer than Redis: that is drift. Unknown start (a command driver): drift too.
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
  return `The proxy sends ${describeWeights(actual.weights)} for ${release.service}: ${release.toSlot} runs ${release.version}, which Greenlight's records say is ${release.state.replace('_', ' ')}. Redis looks older than the proxy (restored from a snapshot?), so Greenlight did not touch traffic. Check what is live; /rollback ${release.service} or /release status ${release.service} once decided.`;
}
