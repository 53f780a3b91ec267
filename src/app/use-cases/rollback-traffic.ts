import { withSlot } from '../../domain/service-state.ts';
import type { EventPorts, ServicePorts, Uses } from '../app-deps.ts';
import { type Lease, LockLostError, PartialMoveError } from '../ports.ts';
import { driveTraffic, TRAFFIC_LOCK_TTL_MS, trafficLock } from '../reconciler.ts';
import { runEvent } from '../release-runner.ts';
import { currentState, updateService } from '../service-access.ts';
import { turnOffReleaseFlags } from './mitigate-flags.ts';
import { deployOntoSlot } from './slot-deploy.ts';

/** driveTraffic, with a load balancer that could not be moved returned instead of thrown. */
function driveReachable(
  deps: Uses<ServicePorts>,
  service: string,
  lease: Lease,
): Promise<PartialMoveError | undefined> {
  return driveTraffic(deps, service, lease).then(
    () => undefined,
    (error: unknown) => {
      if (error instanceof PartialMoveError) return error;
      throw error;
    },
  );
}

/**
 * The worker step of a rollback, once per attempt (the release revision it was asked for). If old
 * PRODUCTION still runs the previous version (it stays warm) the reconciler flips traffic back at
 * once; if /sync or a preempted /bump changed it, the last good version is deployed there first.
 */
export async function runRollbackStep(
  deps: Uses<
    | EventPorts
    | 'comms'
    | 'deployer'
    | 'faulty'
    | 'flags'
    | 'isStopping'
    | 'locks'
    | 'readyTimeoutMs'
    | 'sleep'
  >,
  job: { releaseId: string; attempt?: number | undefined },
): Promise<void> {
  const first = await deps.store.getRelease(job.releaseId);
  if (first === null) return;
  await deps.locks.withLock(trafficLock(first.service), TRAFFIC_LOCK_TTL_MS, async (lease) => {
    const release = await deps.store.getRelease(job.releaseId);
    if (
      release === null ||
      release.state !== 'rolling_back' ||
      (job.attempt !== undefined && release.revision !== job.attempt)
    )
      return;
    const service = release.service;
    const target = release.fromSlot;
    // Mitigate before any artifact is touched; never throws, so traffic always follows.
    const flags = await turnOffReleaseFlags(deps, release);
    try {
      let path: 'switch' | 'redeploy' = 'switch';
      let early: PartialMoveError | undefined;
      const slot = (await currentState(deps, service)).slots[target];
      // What the slot really runs, not only what Redis remembers: a hand-made change must not
      // become PRODUCTION.
      const reported = await deps.probe.version(service, target);
      const healthy = (await deps.probe.health(service, target)).ok;
      const warm =
        slot.version === release.fromVersion &&
        slot.health !== 'failed' &&
        reported.ok &&
        reported.version === release.fromVersion &&
        healthy;
      if (!warm) {
        // The slot does not run what Redis remembers: until redeployed, traffic must not go there.
        if (slot.version === release.fromVersion)
          await updateService(deps, service, (state) =>
            withSlot(
              state,
              target,
              {
                version: null,
                health: 'unknown',
                note: 'does not report the version Greenlight recorded',
              },
              deps.clock.now(),
            ),
          );
        // The slot to redeploy must take no traffic first (a proxy reload may have put it back
        // in service): traffic goes to where it should be meanwhile, PRODUCTION.
        early = await driveReachable(deps, service, lease);
        path = 'redeploy';
        await deps.notifier.releaseNote(
          release,
          `redeploy-${release.revision}`,
          `${target} no longer runs ${release.fromVersion}: deploying it there before switching back.`,
        );
        const deployed = await deployOntoSlot(deps, {
          service,
          slot: target,
          version: release.fromVersion,
          id: release.id,
          stillWanted: async () => {
            const latest = await deps.store.getRelease(release.id);
            return latest?.state === 'rolling_back';
          },
        });
        if (!deployed.ok)
          throw new Error(
            `redeploying ${release.fromVersion} to ${target} failed: ${deployed.reason}`,
          );
        // Recorded so desired traffic may go to it.
        const recorded = await updateService(deps, service, (state) =>
          withSlot(
            state,
            target,
            { version: release.fromVersion, health: 'healthy' },
            deps.clock.now(),
          ),
        );
        if (recorded !== 'written')
          throw new Error(
            recorded === 'conflict'
              ? `could not record ${release.fromVersion} on ${target}: the service kept changing`
              : `could not record ${release.fromVersion} on ${target}: the service's record is ${recorded}`,
          );
      }
      // A load balancer that still does not answer after the retry must not hold the rollback
      // back on the others: they are moved, and it is named until the reconciler reaches it.
      const missed = (await driveReachable(deps, service, lease)) ?? early;
      const health = await deps.probe.health(service, target);
      if (!health.ok) throw new Error(`${target} is unhealthy after the switch: ${health.reason}`);
      const done = await runEvent(deps, release.id, { type: 'rolled_back', path, flags });
      await deps.faulty.mark(service, {
        version: release.version,
        by: release.rollback?.by ?? 'greenlight',
        reason: release.rollback?.reason ?? 'rolled back',
        at: deps.clock.now().toISOString(),
        releaseId: release.id,
      });
      await deps.notifier.rollbackAlert(done.release, done.state, 'done');
      if (missed !== undefined) {
        const text = `Rolled back on every load balancer but ${missed.missed.join(', ')}, which may still send users to ${release.version} on ${release.toSlot}: ${missed.message} Greenlight keeps reconciling it and moves it to ${target} as soon as it answers; check that load balancer.`;
        await deps.notifier.releaseNote(done.release, `rollback-missed-${release.revision}`, text);
        // Beside the "Production restored" alert, which would otherwise read as the whole story.
        await deps.notifier.drift(service, deps.config.alertsChannel, text);
      }
    } catch (error) {
      // Cut short by this process stopping, or its lock lost (another holder may be moving
      // traffic): left for a worker to run again from Redis, not failed.
      if (deps.isStopping?.() || error instanceof LockLostError) throw error;
      const reason = (error as Error).message;
      deps.log.error({ releaseId: release.id, err: error }, 'rollback failed');
      const failed = await runEvent(deps, release.id, {
        type: 'rollback_failed',
        reason,
        flags,
      });
      await deps.notifier.rollbackAlert(failed.release, failed.state, 'failed');
    }
  });
}
