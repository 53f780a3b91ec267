import type { FlagOutcome } from '../../domain/flags.ts';
import { type Release, rollbackAttempt } from '../../domain/release.ts';
import { answered } from '../answered.ts';
import type { EventPorts, ServicePorts, Uses } from '../app-deps.ts';
import { driveWithRetries } from '../move-retries.ts';
import { type Lease, LockBusyError, LockLostError, PartialMoveError } from '../ports.ts';
import { TRAFFIC_LOCK_TTL_MS, trafficLock } from '../reconciler.ts';
import { runEvent } from '../release-runner.ts';
import { turnOffReleaseFlags } from './mitigate-flags.ts';
import { oldSlotReady, recordOldSlot } from './rollback-old-slot.ts';
import { deployHoldingLock, servesTraffic, withSlotDeployLock } from './slot-deploy.ts';

type RollbackDeps = Uses<
  | EventPorts
  | 'comms'
  | 'deployer'
  | 'faulty'
  | 'flags'
  | 'isStopping'
  | 'locks'
  | 'readyTimeoutMs'
  | 'sleep'
>;

/** One attempt of a rollback, as its first part found it. */
interface Attempt {
  readonly release: Release;
  readonly flags: FlagOutcome[];
  /** The old slot no longer runs the last good version: it is deployed there first. */
  readonly redeploy: boolean;
  /** Said in the thread once the rollback is done (how the old slot was found). */
  readonly note?: string;
}

/**
 * Whether the rollback attempt `attempt` began is still the one under way, read fresh: each
 * /rollback (and each retry) has its own number, and an attempt a newer one replaced stands down.
 */
async function stillThisAttempt(deps: Uses<'store'>, attempt: Release): Promise<boolean> {
  return isAttempt(await deps.store.getRelease(attempt.id), attempt);
}

function isAttempt(latest: Release | null, attempt: Release): latest is Release {
  return latest?.state === 'rolling_back' && rollbackAttempt(latest) === rollbackAttempt(attempt);
}

/** The rollback's move, tried again while this attempt stands; `keepPartial` returns a miss. */
function moveUsers(
  deps: Uses<ServicePorts | 'sleep'>,
  release: Release,
  lease: Lease,
  keepPartial: boolean,
): Promise<PartialMoveError | undefined> {
  const stillWanted = () => stillThisAttempt(deps, release);
  return driveWithRetries(deps, release.service, lease, { stillWanted, keepPartial });
}

/**
 * The worker step of a rollback, once per attempt (the release revision it was asked for). If the
 * old slot still runs the previous version (it stays warm) traffic flips back at once. If /sync or
 * a preempted /bump changed it, users are kept on PRODUCTION while the last good version is
 * deployed there, without the traffic lock: the control loop sets back a proxy reload or a hand
 * edit that sends users to the slot meanwhile. A rollback mid-switch or mid-canary moves users
 * back onto PRODUCTION, which is never redeployed under them.
 */
export async function runRollbackStep(
  deps: RollbackDeps,
  job: { releaseId: string; attempt?: number | undefined },
): Promise<void> {
  const first = await deps.store.getRelease(job.releaseId);
  if (first === null) return;
  const withTraffic = <T>(fn: (lease: Lease) => Promise<T>) =>
    deps.locks.withLock(trafficLock(first.service), TRAFFIC_LOCK_TTL_MS, fn);
  const begun = await withTraffic(async (lease) => {
    const release = await deps.store.getRelease(job.releaseId);
    if (
      release === null ||
      release.state !== 'rolling_back' ||
      (job.attempt !== undefined && rollbackAttempt(release) !== job.attempt)
    )
      return undefined;
    // Mitigate before any artifact is touched; never throws, so traffic always follows.
    const flags = await turnOffReleaseFlags(deps, release);
    const attempt: Attempt = { release, flags, redeploy: false };
    return failOnError(deps, attempt, async () => {
      const old = await oldSlotReady(deps, release);
      const found = { ...attempt, redeploy: !old.ready, ...(old.note ? { note: old.note } : {}) };
      if (old.ready) await finish(deps, found, lease);
      return found;
    });
  });
  if (begun?.redeploy !== true) return;
  const { release } = begun;
  // Held until users are on the slot: a second run of this attempt (BullMQ re-delivering it)
  // finds the rollback done once the lock is its, and never deploys under them.
  await withSlotDeployLock(deps, release.service, release.fromSlot, (slotLease) =>
    failOnError(deps, begun, async () => {
      const clear = await withTraffic(async (lease) => {
        if (!(await stillThisAttempt(deps, release))) return false;
        await keepUsersOff(deps, release, lease);
        return true;
      });
      if (!clear) return;
      // A lapsed deploy lock (Redis away past its expiry) may be another run's by now.
      slotLease.assertHeld();
      const deployed = await deployHoldingLock(deps, {
        service: release.service,
        slot: release.fromSlot,
        version: release.fromVersion,
        id: release.id,
        stillWanted: () => stillThisAttempt(deps, release),
      });
      if (!deployed.ok) {
        // A newer attempt (a /rollback given again) took over, or the rollback ended: theirs.
        if (deployed.cancelled) return;
        throw new Error(
          `redeploying ${release.fromVersion} to ${release.fromSlot} failed: ${deployed.reason}`,
        );
      }
      await withTraffic(async (lease) => {
        const latest = await deps.store.getRelease(release.id);
        if (!isAttempt(latest, release)) return;
        slotLease.assertHeld();
        await recordOldSlot(deps, release);
        await finish(deps, { ...begun, release: latest }, lease);
      });
    }),
  );
}

/**
 * Users go to PRODUCTION before the old slot is deployed (a proxy reload may have put it back in
 * service), and the deploy waits while any load balancer may still send them there.
 */
async function keepUsersOff(deps: RollbackDeps, release: Release, lease: Lease): Promise<void> {
  // Tried again like any move, a load balancer that stays away included: none may be missed.
  await moveUsers(deps, release, lease, false).catch((error: unknown) => {
    if (!(error instanceof PartialMoveError)) throw error;
    throw new Error(
      `${error.missed.join(', ')} may still send users to ${release.fromSlot} (not read, or not moved), so ${release.fromVersion} is not deployed under them: ${error.message}`,
    );
  });
  const serving = await servesTraffic(deps, release.service, release.fromSlot);
  if (serving !== undefined)
    throw new Error(`${release.fromVersion} is not redeployed: ${serving}`);
}

/** Moves users back, checks the slot, and records the rollback as done. */
async function finish(deps: RollbackDeps, attempt: Attempt, lease: Lease): Promise<void> {
  const { release, flags, redeploy } = attempt;
  const { service, fromSlot: target } = release;
  // A load balancer that still does not answer after the retries must not hold the rollback
  // back on the others: they are moved, and it is named until the reconciler reaches it (also
  // when the control loop had moved the others already).
  const missed = await moveUsers(deps, release, lease, true);
  const health = await answered(
    deps,
    () => deps.probe.health(service, target),
    (h) => h.ok,
  );
  if (!health.ok) throw new Error(`${target} is unhealthy after the switch: ${health.reason}`);
  const done = await runEvent(deps, release.id, {
    type: 'rolled_back',
    path: redeploy ? 'redeploy' : 'switch',
    flags,
  });
  await deps.faulty.mark(service, {
    version: release.version,
    by: release.rollback?.by ?? 'greenlight',
    reason: release.rollback?.reason ?? 'rolled back',
    at: deps.clock.now().toISOString(),
    releaseId: release.id,
  });
  await deps.notifier.rollbackAlert(done.release, done.state, 'done');
  if (attempt.note !== undefined)
    await deps.notifier.releaseNote(
      done.release,
      `already-back-${rollbackAttempt(release)}`,
      attempt.note,
    );
  if (missed !== undefined) {
    // What the slot left behind answers now (a /bump may have changed it since, see olderThanProxy).
    const left = await deps.probe.version(service, release.toSlot).catch(() => undefined);
    const where = left?.ok
      ? `${left.version} on ${release.toSlot}`
      : `${release.toSlot} (${release.version} on record; it did not answer)`;
    const text = `Rolled back on every load balancer but ${missed.missed.join(', ')}, which may still send users to ${where}: ${missed.message} Greenlight keeps reconciling it and moves it to ${target} as soon as it answers; check that load balancer.`;
    await deps.notifier.releaseNote(done.release, `rollback-missed-${release.revision}`, text);
    // Beside the "Production restored" alert, which would otherwise read as the whole story.
    await deps.notifier.drift(service, deps.config.alertsChannel, text);
  }
}

/**
 * Runs a part of the rollback; a failure is recorded on the release (it stays rolling_back, and
 * the sweeper tries it again) and alerted. Cut short by this process stopping, or a lock lost or
 * busy (another holder may be moving traffic): left for a worker to run again from Redis.
 */
async function failOnError<T>(
  deps: RollbackDeps,
  attempt: Attempt,
  part: () => Promise<T>,
): Promise<T | undefined> {
  try {
    return await part();
  } catch (error) {
    // A lock held elsewhere past its wait (a long fleet move, another run's deploy): BullMQ runs
    // the job again later; it says nothing about the rollback.
    if (deps.isStopping?.() || error instanceof LockLostError || error instanceof LockBusyError)
      throw error;
    const { release, flags } = attempt;
    // An attempt a newer one replaced says nothing about that one.
    if (!(await stillThisAttempt(deps, release))) return undefined;
    deps.log.error({ releaseId: release.id, err: error }, 'rollback failed');
    const failed = await runEvent(deps, release.id, {
      type: 'rollback_failed',
      reason: (error as Error).message,
      flags,
    });
    await deps.notifier.rollbackAlert(failed.release, failed.state, 'failed');
    return undefined;
  }
}
