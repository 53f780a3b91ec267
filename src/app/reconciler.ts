import {
  type DesiredTraffic,
  describeWeights,
  desiredTraffic,
  type SlotWeights,
  sameWeights,
  stepOwnsTraffic,
} from '../domain/desired-traffic.ts';
import type { Release } from '../domain/release.ts';
import type { ServiceState } from '../domain/service-state.ts';
import { audit, type ServicePorts, serviceConfig, type Uses } from './app-deps.ts';
import { instancesOff, unreadInstances } from './fleet-traffic.ts';
import { olderThanProxy } from './older-than-proxy.ts';
import {
  type Lease,
  LockBusyError,
  LockLostError,
  PartialMoveError,
  setWeights,
  type TrafficState,
} from './ports.ts';
import { audienceOff, driveAudience, wantedAudience } from './ring-traffic.ts';
import { currentState, updateService } from './service-access.ts';

/** Lock held around every traffic change of a service, so two steps never move it at once. */
export const trafficLock = (service: string) => `traffic-${service}`;
/** Renewed while held, so it only bounds how long a crashed holder blocks the service. */
export const TRAFFIC_LOCK_TTL_MS = 10_000;

export interface ReconcileOutcome {
  readonly service: string;
  readonly result: 'in_sync' | 'corrected' | 'moved' | 'skipped' | 'error';
  readonly detail?: string;
}

/** The service and the release that decides its traffic (its last one), read fresh. */
export interface DesiredRead {
  readonly state: ServiceState;
  readonly release: Release | null;
  readonly desired: DesiredTraffic;
}

export async function desiredNow(deps: Uses<ServicePorts>, service: string): Promise<DesiredRead> {
  const state = await currentState(deps, service);
  const release = state.lastReleaseId ? await deps.store.getRelease(state.lastReleaseId) : null;
  return { state, release, desired: desiredTraffic(state, release) };
}

/** Each load balancer's own weights (or error), for the audit trail of a fleet. */
function instancesOf(traffic: TrafficState) {
  if (traffic.instances === undefined) return {};
  return {
    instances: Object.fromEntries(
      traffic.instances.map((i) => [i.name, i.state?.weights ?? { error: i.error }]),
    ),
  };
}

/** Records what Greenlight set on the proxy, so a later difference reads as drift. */
async function rememberApplied(
  deps: Uses<ServicePorts>,
  service: string,
  weights: SlotWeights,
  options: { changed: boolean },
) {
  const started = await deps.traffic.startedAt?.(service).catch(() => undefined);
  await updateService(
    deps,
    service,
    (state) =>
      // Kept current with the proxy process too: a reload is told from older Redis data by it.
      state.traffic &&
      sameWeights(state.traffic.weights, weights) &&
      !options.changed &&
      state.traffic.proxyStartedAt === started?.getTime()
        ? null
        : {
            ...state,
            traffic: {
              weights,
              at: deps.clock.now().toISOString(),
              ...(started ? { proxyStartedAt: started.getTime() } : {}),
            },
          },
    { attempts: 5, adopt: false },
  );
}

/** A failure after the lock lapsed is the lost lock (another holder may have acted meanwhile). */
const lapsedFirst =
  (lease: Lease) =>
  (error: unknown): never => {
    lease.assertHeld();
    throw error;
  };

/** A move's failure, lost lock first; one that missed some load balancers is returned if kept. */
const missedOf = (move: Promise<unknown>, lease: Lease, keepPartial: boolean) =>
  move.then(
    () => undefined,
    (error: unknown) => {
      lease.assertHeld();
      if (keepPartial && error instanceof PartialMoveError) return error;
      throw error;
    },
  );

/**
 * The only code that moves traffic. Call it holding the service's traffic lock: it reads what
 * should be (from the stored release) and what is (from the proxy), moves the proxy when they
 * differ, audits the change, and reads the proxy back. Throws when the proxy refuses or does not
 * end where it should, and with `unreadIsMissed` when a load balancer of a fleet cannot be read
 * (a move back keeps it as missed, like one it could not reach); otherwise the control loop
 * reaches that one once it answers. A caller that decided on a read (whether a step owns the
 * traffic) passes it, so the move is the one it decided on, not one a later read would make.
 */
export async function driveTraffic(
  deps: Uses<ServicePorts>,
  service: string,
  lease: Lease,
  options: { read?: DesiredRead; unreadIsMissed?: boolean } = {},
): Promise<{
  desired: DesiredTraffic;
  before: TrafficState;
  after: TrafficState;
  changed: boolean;
}> {
  const { state, release, desired } = options.read ?? (await desiredNow(deps, service));
  const before = await deps.traffic.inspect(service);
  // Across several load balancers, a release moving forward is undone where it reached if one
  // instance cannot follow; a move back to known-good traffic keeps what it reached.
  const forward = release?.state === 'switching' || release?.state === 'ramping';
  const onPartialFailure = forward ? 'restore' : 'keep';
  // Rings: audiences leave before the weights move back (a rollback restores every ring) and
  // join once the weights are set, so no audience is sent to a slot that is leaving.
  const audience = wantedAudience(deps, service, release);
  // A load balancer that does not answer must not keep the others' audiences from leaving.
  // Each effect first asks whether the lock is still surely ours: a holder whose renewals failed
  // must not move the proxy after another holder has (BullMQ runs its step again, from Redis).
  let left: PartialMoveError | undefined;
  if (audience?.length === 0) {
    lease.assertHeld();
    left = await missedOf(driveAudience(deps, service, audience, desired), lease, !forward);
  }
  if (sameWeights(before.weights, desired.weights)) {
    lease.assertHeld();
    await rememberApplied(deps, service, desired.weights, { changed: false });
    let joined = false;
    if (audience?.length) {
      lease.assertHeld();
      joined = await driveAudience(deps, service, audience, desired).catch(lapsedFirst(lease));
    }
    // Nothing to move where the proxy could be read; one that could not may send users anywhere:
    // a step about to say something of every load balancer (`unreadIsMissed`) is not done.
    const silent = left ?? (options.unreadIsMissed ? unreadInstances(before) : undefined);
    if (silent !== undefined) throw silent;
    return { desired, before, after: before, changed: joined };
  }
  lease.assertHeld();
  // A fleet moved back to known-good traffic but for an instance: what moved is audited first.
  // A lock that lapsed while the proxy moved explains a failure better than the proxy does
  // (another holder may have moved it meanwhile): not a failed switch, not a canary breach.
  const moving = { onPartialFailure, lease } as const;
  const missed = await missedOf(
    setWeights(deps.traffic, service, desired.weights, moving),
    lease,
    true,
  );
  const after = await deps.traffic.inspect(service);
  await audit(deps, {
    who: 'greenlight',
    what: 'traffic set',
    service,
    ...(desired.releaseId ? { releaseId: desired.releaseId } : {}),
    before: { weights: before.weights, ...instancesOf(before) },
    after: {
      weights: after.weights,
      versions: { blue: state.slots.blue.version, green: state.slots.green.version },
      because: desired.because,
      ...instancesOf(after),
    },
  });
  // Also before saying what went wrong: after a lapse, that is the lost lock.
  lease.assertHeld();
  if (missed !== undefined) throw missed;
  if (!sameWeights(after.weights, desired.weights)) {
    throw new Error(
      `after the change the proxy sends ${describeWeights(after.weights)}, not ${describeWeights(desired.weights)}`,
    );
  }
  await rememberApplied(deps, service, desired.weights, { changed: true });
  if (audience?.length) {
    lease.assertHeld();
    await driveAudience(deps, service, audience, desired).catch(lapsedFirst(lease));
  }
  if (left !== undefined) throw left;
  return { desired, before, after, changed: true };
}

/**
 * A pass of the control loop for one service: at start-up, every reconcile interval, and after a
 * transition that changed desired traffic. A difference that Greenlight did not cause (the proxy
 * no longer shows what it last set: a reload, a hand edit) is drift and is reported with desired
 * and actual; a difference it did cause (a transition not yet applied) is simply applied.
 */
export async function reconcileTraffic(
  deps: Uses<ServicePorts | 'locks'>,
  service: string,
  options: { waitMs?: number } = {},
): Promise<ReconcileOutcome> {
  const channel = serviceConfig(deps, service).channel;
  return deps.locks
    .withLock(
      trafficLock(service),
      TRAFFIC_LOCK_TTL_MS,
      async (lease): Promise<ReconcileOutcome> => {
        try {
          const read = await desiredNow(deps, service);
          const { state, release, desired } = read;
          // A switch or a rollback's move back is its step's to make: the step checks the slot
          // it moves traffic to (STANDBY is what was approved; the old slot runs the last good
          // version) before anything moves. The sweeper keeps that step alive and bounds it.
          if (release !== null && stepOwnsTraffic(state, release))
            return {
              service,
              result: 'skipped',
              detail: `release ${release.id} is ${release.state}`,
            };
          const actual = await deps.traffic.inspect(service);
          const lostAudience = await audienceOff(
            deps,
            service,
            wantedAudience(deps, service, release),
          );
          if (sameWeights(actual.weights, desired.weights) && lostAudience === undefined) {
            await rememberApplied(deps, service, desired.weights, { changed: false });
            return { service, result: 'in_sync' };
          }
          const shown = await olderThanProxy(deps, state, release, actual, desired);
          if (shown !== undefined && release !== null) {
            const stale = `${shown}, so Greenlight did not touch traffic. Check what is live; /rollback ${service} or /release status ${service} once decided.`;
            await deps.notifier.releaseNote(release, 'older-than-proxy', stale);
            await audit(deps, {
              who: 'greenlight',
              what: 'traffic left alone: Redis is older than the proxy',
              service,
              releaseId: release.id,
              before: { weights: actual.weights },
              after: { desired: desired.weights },
            });
            return { service, result: 'skipped', detail: stale };
          }
          const drifted =
            state.traffic === undefined ||
            !sameWeights(state.traffic.weights, actual.weights) ||
            lostAudience !== undefined;
          const moved = await driveTraffic(deps, service, lease, { read });
          if (!drifted) return { service, result: 'moved', detail: desired.because };
          const seen = actual.serving.join(' + ') || 'no slot';
          const off = instancesOff(actual, desired.weights);
          const detail = `${off ? `Load balancers off: ${off}. ` : ''}${lostAudience ? `Rings: ${lostAudience}; set back. ` : ''}HAProxy sent ${service} traffic to ${seen} (${describeWeights(actual.weights)}), but Greenlight wants ${describeWeights(desired.weights)}: ${desired.because} (${state.production} runs ${state.slots[state.production].version ?? 'an unknown version'}). Greenlight set it back to ${describeWeights(moved.after.weights)}.`;
          await deps.notifier.drift(service, channel, detail);
          await audit(deps, {
            who: 'greenlight',
            what: 'traffic drift corrected',
            service,
            before: { weights: actual.weights },
            after: { weights: moved.after.weights },
          });
          return { service, result: 'corrected', detail };
        } catch (error) {
          // Nothing to tell the channel: the next pass, or the step that took the lock, carries on.
          if (error instanceof LockLostError) {
            deps.log.warn({ service, err: error }, 'reconcile stopped: the traffic lock was lost');
            return { service, result: 'skipped', detail: error.message };
          }
          const detail = `Greenlight could not bring ${service}'s traffic to where it should be: ${(error as Error).message}`;
          deps.log.warn({ service, err: error }, 'reconcile failed');
          return { service, result: 'error', detail };
        }
      },
      { waitMs: options.waitMs ?? 0 },
    )
    .catch((error: unknown) => {
      if (error instanceof LockBusyError)
        return { service, result: 'skipped' as const, detail: 'a traffic change is under way' };
      throw error;
    });
}
