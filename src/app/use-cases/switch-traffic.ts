import type { ServiceState } from '../../domain/service-state.ts';
import type { Slot } from '../../domain/slots.ts';
import { type AppDeps, audit, serviceConfig } from '../app-deps.ts';
import { ReleaseError } from '../release-error.ts';
import { applyReleaseEvent } from '../release-events.ts';
import { standbyChange } from './decide-release.ts';
import { performEffects, stabilityEnd } from './progressive.ts';

/** Lock held around every traffic change of a service, so two steps never switch at once. */
export const trafficLock = (service: string) => `traffic-${service}`;
/** Renewed while held, so it only bounds how long a crashed holder blocks the service. */
export const TRAFFIC_LOCK_TTL_MS = 10_000;

/** Switches and then checks, through the proxy and the slot itself, that the slot took over. */
export async function switchAndVerify(
  deps: AppDeps,
  service: string,
  slot: Slot,
): Promise<{ changed: boolean }> {
  const before = await deps.traffic.inspect(service);
  const result = await deps.traffic.switchTo(service, slot);
  if (result.changed) {
    await audit(deps, {
      who: 'greenlight',
      what: `traffic switched to ${slot}`,
      service,
      before: { serving: before.serving },
      after: { serving: [slot] },
    });
  }
  const traffic = await deps.traffic.inspect(service);
  if (traffic.serving.length !== 1 || traffic.serving[0] !== slot) {
    throw new Error(
      `after the switch HAProxy sends traffic to ${traffic.serving.join(' and ') || 'no slot'}, not ${slot}`,
    );
  }
  if (!traffic.up.includes(slot)) throw new Error(`HAProxy's health check sees ${slot} as down`);
  const health = await deps.probe.health(service, slot);
  if (!health.ok) throw new Error(`${slot} is unhealthy after the switch: ${health.reason}`);
  return result;
}

const becomeProduction =
  (slot: Slot) =>
  (state: ServiceState): ServiceState =>
    state.production === slot ? state : { ...state, production: slot };

/**
 * The worker step after the last approval. Idempotent: it acts only while the release is
 * `switching`, under the service's traffic lock, and the switch itself checks HAProxy first.
 */
export async function runSwitchStep(deps: AppDeps, job: { releaseId: string }): Promise<void> {
  const first = await deps.store.getRelease(job.releaseId);
  if (first === null) return;
  await deps.locks.withLock(trafficLock(first.service), TRAFFIC_LOCK_TTL_MS, async () => {
    const release = await deps.store.getRelease(job.releaseId);
    if (release === null || release.state !== 'switching') {
      deps.log.info(
        { releaseId: job.releaseId, state: release?.state },
        'switch step has nothing to do',
      );
      return;
    }
    const change = await standbyChange(deps, release);
    if (change !== undefined) {
      const voided = await applyReleaseEvent(deps, release.id, {
        type: 'void_approvals',
        reason: change,
      });
      await deps.notifier.releaseChanged(voided.release, voided.state);
      return;
    }
    // A canary's first step is a weight; blue/green moves everything. Either way a failure puts
    // production back and ends the release, so the service is never left half switched.
    const firstWeight =
      release.strategy === 'canary'
        ? (serviceConfig(deps, release.service).canary.steps[0] ?? 100)
        : 100;
    try {
      if (firstWeight < 100) await deps.traffic.split(release.service, release.toSlot, firstWeight);
      else await switchAndVerify(deps, release.service, release.toSlot);
    } catch (error) {
      const reason = (error as Error).message;
      deps.log.warn(
        { releaseId: release.id, err: error },
        'traffic switch failed; restoring production',
      );
      let restored = 'production restored';
      try {
        await deps.traffic.switchTo(release.service, release.fromSlot);
      } catch (restoreError) {
        restored = `and restoring ${release.fromSlot} failed too: ${(restoreError as Error).message}`;
      }
      const failed = await applyReleaseEvent(deps, release.id, {
        type: 'switch_failed',
        reason: `${reason} (${restored})`,
      });
      await deps.notifier.releaseChanged(failed.release, failed.state);
      return;
    }
    const observeUntil = firstWeight >= 100 ? stabilityEnd(deps, release.service) : undefined;
    const window = observeUntil ? { observeUntil } : {};
    let done: Awaited<ReturnType<typeof applyReleaseEvent>>;
    try {
      done = await applyReleaseEvent(
        deps,
        release.id,
        release.strategy === 'canary'
          ? { type: 'step_reached', stepIndex: 0, ...window }
          : { type: 'switched', ...window },
        firstWeight >= 100 ? becomeProduction(release.toSlot) : (state) => state,
      );
    } catch (error) {
      // A /rollback arrived while traffic moved: its step runs after this lock and restores.
      if (error instanceof ReleaseError) return;
      throw error;
    }
    await deps.notifier.releaseChanged(done.release, done.state);
    await performEffects(deps, done);
  });
}
