import type { ServiceState } from '../../domain/service-state.ts';
import { type AppDeps, audit, serviceConfig } from '../app-deps.ts';
import { LockBusyError } from '../ports.ts';
import { currentState } from '../service-access.ts';
import { TRAFFIC_LOCK_TTL_MS, trafficLock } from './switch-traffic.ts';

export interface ReconcileOutcome {
  readonly service: string;
  readonly result: 'in_sync' | 'corrected' | 'skipped' | 'error';
  readonly detail?: string;
}

/**
 * Redis holds the intended state; HAProxy loses runtime changes on reload. At start-up (and
 * periodically) traffic is put back where Redis says PRODUCTION is, and any drift is reported in
 * the service's channel. Services with a switch or rollback under way are left to that step.
 */
export async function reconcileTraffic(deps: AppDeps, service: string): Promise<ReconcileOutcome> {
  let state: ServiceState = await currentState(deps, service);
  if (state.revision === 0) {
    // First sight of this service: persist the bootstrap so every process agrees on it.
    const stored = { ...state, revision: 1 };
    if (await deps.store.commit({ service: { next: stored, expected: 0 } })) state = stored;
    else state = await currentState(deps, service);
  }
  if (state.operation?.kind === 'rollback')
    return { service, result: 'skipped', detail: 'a rollback is running' };
  const channel = serviceConfig(deps, service).channel;
  // Never wait here: a held lock means a step is changing traffic right now; check next time.
  return deps.locks
    .withLock(
      trafficLock(service),
      TRAFFIC_LOCK_TTL_MS,
      async () => {
        const latest = await currentState(deps, service);
        if (latest.operation?.releaseId !== undefined) {
          const release = await deps.store.getRelease(latest.operation.releaseId);
          if (release?.state === 'switching' || release?.state === 'rolling_back') {
            return {
              service,
              result: 'skipped' as const,
              detail: `release ${release.id} is ${release.state}`,
            };
          }
        }
        try {
          const traffic = await deps.traffic.inspect(service);
          if (traffic.serving.length === 1 && traffic.serving[0] === latest.production) {
            return { service, result: 'in_sync' as const };
          }
          const seen = traffic.serving.join(' + ') || 'no slot';
          await deps.traffic.switchTo(service, latest.production);
          const detail = `HAProxy sent ${service} traffic to ${seen}, but PRODUCTION is ${latest.production} (${latest.slots[latest.production].version}). Greenlight moved traffic back to ${latest.production}.`;
          await deps.notifier.drift(service, channel, detail);
          await audit(deps, {
            who: 'greenlight',
            what: 'traffic drift corrected',
            service,
            before: { serving: traffic.serving },
            after: { serving: [latest.production] },
          });
          return { service, result: 'corrected' as const, detail };
        } catch (error) {
          const detail = `Greenlight could not check HAProxy for ${service}: ${(error as Error).message}`;
          deps.log.warn({ service, err: error }, 'reconcile failed');
          return { service, result: 'error' as const, detail };
        }
      },
      { waitMs: 0 },
    )
    .catch((error: unknown) => {
      if (error instanceof LockBusyError)
        return { service, result: 'skipped' as const, detail: 'a traffic change is under way' };
      throw error;
    });
}
