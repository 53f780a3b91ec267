import { desiredTraffic } from '../../domain/desired-traffic.ts';
import type { Release } from '../../domain/release.ts';
import { type ServiceState, withSlot } from '../../domain/service-state.ts';
import { answered } from '../answered.ts';
import type { ServicePorts, Uses } from '../app-deps.ts';
import { olderThanProxy } from '../older-than-proxy.ts';
import { currentState, updateService } from '../service-access.ts';

// Whether a rollback's old slot can take users back now, and what is recorded of it.

type OldSlotDeps = Uses<ServicePorts | 'sleep'>;

/** Ready: users may go back at once; with a note for the thread once the rollback is done. */
export interface OldSlot {
  readonly ready: boolean;
  readonly note?: string;
}

/** The old slot recorded as running the last good version, so desired traffic may go to it. */
export async function recordOldSlot(
  deps: OldSlotDeps,
  release: Release,
  also: (state: ServiceState) => ServiceState = (state) => state,
): Promise<void> {
  const { fromSlot, fromVersion } = release;
  const recorded = await updateService(deps, release.service, (state) =>
    also(withSlot(state, fromSlot, { version: fromVersion, health: 'healthy' }, deps.clock.now())),
  );
  if (recorded !== 'written')
    throw new Error(
      `could not record ${fromVersion} on ${fromSlot}: ${recorded === 'conflict' ? 'the service kept changing' : `the service's record is ${recorded}`}`,
    );
}

/**
 * Redis older than the proxy (restored from before this rollback ended, PRODUCTION changed since):
 * users already on the old slot stay; it is recorded, not redeployed under them, and PRODUCTION
 * on record no longer counts as running what Redis remembered. Says what was shown, for the
 * thread once the rollback is done.
 */
async function usersAlreadyBack(
  deps: OldSlotDeps,
  state: ServiceState,
  release: Release,
): Promise<string | undefined> {
  const actual = await deps.traffic.inspect(release.service).catch(() => undefined);
  const desired = desiredTraffic(state, release);
  const shown = actual && (await olderThanProxy(deps, state, release, actual, desired));
  if (!shown) return undefined;
  const left = state.production;
  const note = `answers another version than recorded (${state.slots[left].version ?? 'none'}): Redis was older than the proxy`;
  await recordOldSlot(deps, release, (s) =>
    withSlot(s, left, { version: null, health: 'unknown', note }, deps.clock.now()),
  );
  return `${shown}: the rollback is recorded as done, without redeploying ${release.fromSlot}.`;
}

/**
 * Whether traffic may go back now: the old slot is PRODUCTION (a rollback mid-switch or
 * mid-canary); it runs the last good version; or users are on it already and Redis is shown
 * older than the proxy (`usersAlreadyBack`). Otherwise it is recorded as no longer running it
 * (the control loop then keeps users on PRODUCTION) and it is not ready.
 */
export async function oldSlotReady(deps: OldSlotDeps, release: Release): Promise<OldSlot> {
  const { service, fromSlot: target } = release;
  const state = await currentState(deps, service);
  // What the slot really runs, not only what Redis remembers: a hand-made change must not
  // become PRODUCTION.
  // Each read tried again: one slow answer must not turn a flip back into a redeploy.
  const reported = await answered(
    deps,
    () => deps.probe.version(service, target),
    (r) => r.ok,
  );
  if (target === state.production) {
    if (!reported.ok || reported.version !== release.fromVersion)
      await deps.notifier.releaseNote(
        release,
        `production-version-${release.revision}`,
        `${target} (PRODUCTION) answers ${reported.ok ? reported.version : `no version (${reported.reason})`}, not ${release.fromVersion}: users go back to it all the same, as Greenlight never deploys onto PRODUCTION. Check what runs there.`,
      );
    return { ready: true };
  }
  const slot = state.slots[target];
  const health = await answered(
    deps,
    () => deps.probe.health(service, target),
    (h) => h.ok,
  );
  const why = !reported.ok
    ? `gives no version (${reported.reason})`
    : reported.version !== release.fromVersion
      ? `answers ${reported.version}`
      : !health.ok
        ? `is unhealthy (${health.reason})`
        : slot.version !== release.fromVersion || slot.health === 'failed'
          ? `is on record with ${slot.version ?? 'no version'}${slot.health === 'failed' ? ', its last deploy failed' : ''}`
          : undefined;
  if (why === undefined) return { ready: true };
  // Its own reads, each tried again: one slow answer must not send users off a slot they are on.
  const back = await usersAlreadyBack(deps, state, release);
  if (back !== undefined) return { ready: true, note: back };
  // Recorded before anything moves: until it is, desired traffic would still go to the slot.
  const marked =
    slot.version === release.fromVersion
      ? await updateService(deps, service, (s) =>
          withSlot(s, target, { version: null, health: 'unknown', note: why }, deps.clock.now()),
        )
      : 'written';
  if (marked !== 'written')
    throw new Error(`could not record that ${target} no longer runs ${release.fromVersion}`);
  await deps.notifier.releaseNote(
    release,
    `redeploy-${release.revision}`,
    `${target} ${why}, not ${release.fromVersion} healthy: deploying ${release.fromVersion} there again before switching back (users stay on ${state.production} meanwhile).`,
  );
  return { ready: false };
}
