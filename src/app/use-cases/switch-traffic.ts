import { stepOwnsTraffic, targetWeight } from '../../domain/desired-traffic.ts';
import type { Release } from '../../domain/release.ts';
import { type EventPorts, serviceConfig, type Uses } from '../app-deps.ts';
import { driveWithRetries } from '../move-retries.ts';
import { type Lease, LockLostError } from '../ports.ts';
import { desiredNow, driveTraffic, TRAFFIC_LOCK_TTL_MS, trafficLock } from '../reconciler.ts';
import { closedFor } from '../release-calendar.ts';
import { ReleaseError } from '../release-error.ts';
import { runEvent } from '../release-runner.ts';
import { standbyChange } from './decide-release.ts';

/** End of the stability window for traffic that moved now, or undefined when there is none. */
export function stabilityEnd(deps: Uses<'clock' | 'config'>, service: string): string | undefined {
  const minutes = serviceConfig(deps, service).stabilityWindowMinutes;
  return minutes > 0
    ? new Date(deps.clock.now().getTime() + minutes * 60_000).toISOString()
    : undefined;
}

/** Checks, through the proxy and the slot itself, that the release's slot took its share. */
async function verifySwitch(deps: Uses<'probe' | 'traffic'>, release: Release): Promise<void> {
  const traffic = await deps.traffic.inspect(release.service);
  if (!traffic.up.includes(release.toSlot))
    throw new Error(`HAProxy's health check sees ${release.toSlot} as down`);
  const health = await deps.probe.health(release.service, release.toSlot);
  if (!health.ok)
    throw new Error(`${release.toSlot} is unhealthy after the switch: ${health.reason}`);
}

/**
 * Moves traffic, trying twice more when the proxy could not be moved (the reconciler undoes a
 * partial move first), then verifies. A failed check is not retried: the new slot would go on
 * serving while unhealthy. Throws the last error.
 */
async function switchWithRetries(
  deps: Uses<EventPorts | 'sleep'>,
  release: Release,
  lease: Lease,
): Promise<void> {
  const stillWanted = async () => {
    const now = await deps.store.getRelease(release.id);
    return now?.state === 'switching' && now.revision === release.revision;
  };
  await driveWithRetries(deps, release.service, lease, { stillWanted });
  await verifySwitch(deps, release);
}

/**
 * The worker step of a release in `switching` (the last approval, or a canary's last Promote).
 * Runs once per revision: a re-delivery, or a job from before a newer decision, does nothing.
 * It checks STANDBY is still what was approved, lets the reconciler move traffic to the desired
 * split, verifies, and records the outcome; a failure ends the release and traffic goes back.
 */
export async function runSwitchStep(
  deps: Uses<EventPorts | 'comms' | 'locks' | 'sleep'>,
  job: { releaseId: string; revision?: number | undefined },
): Promise<void> {
  const first = await deps.store.getRelease(job.releaseId);
  if (first === null) return;
  await deps.locks.withLock(trafficLock(first.service), TRAFFIC_LOCK_TTL_MS, async (lease) => {
    const release = await deps.store.getRelease(job.releaseId);
    if (
      release === null ||
      release.state !== 'switching' ||
      (job.revision !== undefined && release.revision !== job.revision)
    ) {
      deps.log.info(
        { releaseId: job.releaseId, state: release?.state, revision: release?.revision },
        'switch step has nothing to do (done, or superseded by a newer decision)',
      );
      return;
    }
    const closed = closedFor(deps, release);
    if (closed !== undefined) {
      if (release.canary !== undefined && release.canary.stepIndex > 0) {
        await runEvent(deps, release.id, {
          type: 'switch_held',
          reason: `the calendar closed before the last step: ${closed}. Promote once it opens`,
        });
        return;
      }
      await failSwitch(deps, release, `the calendar closed before traffic moved: ${closed}`, lease);
      return;
    }
    const untouched = release.canary === undefined || release.canary.stepIndex <= 0;
    const change = await standbyChange(deps, release);
    if (change !== undefined) {
      if (untouched) {
        await runEvent(deps, release.id, { type: 'void_approvals', reason: change });
      } else {
        await failSwitch(deps, release, change, lease);
      }
      await driveTraffic(deps, release.service, lease).catch(() => undefined);
      return;
    }
    try {
      await switchWithRetries(deps, release, lease);
    } catch (error) {
      // Not a failed switch: this step lost its lock, and BullMQ runs it again from Redis.
      if (error instanceof LockLostError) throw error;
      deps.log.warn({ releaseId: release.id, err: error }, 'traffic switch failed; restoring');
      await failSwitch(deps, release, (error as Error).message, lease);
      return;
    }
    const stabilityUntil =
      targetWeight(release) >= 100 ? stabilityEnd(deps, release.service) : undefined;
    try {
      await runEvent(deps, release.id, {
        type: 'switched',
        ...(stabilityUntil ? { observeUntil: stabilityUntil } : {}),
      });
    } catch (error) {
      // A /rollback arrived while traffic moved: its own step runs after this lock and restores.
      if (error instanceof ReleaseError) return;
      throw error;
    }
  });
}

/** Ends a switch that cannot finish: PRODUCTION never changed, so traffic goes back to it. */
export async function failSwitch(
  deps: Uses<EventPorts | 'comms'>,
  release: Release,
  reason: string,
  lease: Lease,
): Promise<void> {
  try {
    await runEvent(deps, release.id, { type: 'switch_failed', reason });
  } catch (error) {
    if (error instanceof ReleaseError) return;
    throw error;
  }
  try {
    await driveTraffic(deps, release.service, lease);
  } catch (error) {
    // The traffic job enqueued by the transition, and the periodic reconcile, keep trying.
    deps.log.error({ releaseId: release.id, err: error }, 'could not restore traffic yet');
  }
}

/**
 * The step after a transition that changed desired traffic (a canary step, a restore). It waits
 * for the traffic lock, then drives the proxy; if a canary cannot take its new weight, the
 * release rolls back, as it would on a breach.
 */
export async function runTrafficStep(
  deps: Uses<EventPorts | 'comms' | 'locks'>,
  job: { service: string },
): Promise<void> {
  await deps.locks.withLock(trafficLock(job.service), TRAFFIC_LOCK_TTL_MS, async (lease) => {
    const read = await desiredNow(deps, job.service);
    if (stepOwnsTraffic(read.state, read.release)) return;
    try {
      await driveTraffic(deps, job.service, lease, { read });
    } catch (error) {
      // A lost lock says nothing about the canary: the step runs again, nothing rolls back.
      if (error instanceof LockLostError) throw error;
      const state = await deps.store.getService(job.service);
      const release = state?.lastReleaseId
        ? await deps.store.getRelease(state.lastReleaseId)
        : null;
      if (release?.state === 'ramping') {
        await runEvent(deps, release.id, {
          type: 'rollback',
          user: 'greenlight',
          reason: `moving to ${targetWeight(release)} % failed: ${(error as Error).message}`,
        });
        return;
      }
      throw error;
    }
  });
}
