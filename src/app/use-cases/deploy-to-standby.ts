import { type ServiceState, standbyOf, withSlot } from '../../domain/service-state.ts';
import { type BumpTarget, firstUsable, nextVersion } from '../../domain/version.ts';
import type { Answer } from '../answer.ts';
import { audit, type ServicePorts, serviceConfig, type Uses } from '../app-deps.ts';
import type { DeployKind, DeployNotice } from '../ports.ts';
import { checkCalendar, closedError } from '../release-calendar.ts';
import { ReleaseError } from '../release-error.ts';
import { busyError, commitService, currentState } from '../service-access.ts';
import { refuseDuringStabilityWindow } from './progressive.ts';
import { refuseFaulty } from './release-history.ts';
import { deployOntoSlot } from './slot-deploy.ts';

function notice(
  deps: Uses<'config'>,
  state: ServiceState,
  kind: DeployKind,
  version: string,
  by: string,
  id: string,
): DeployNotice {
  const slot = standbyOf(state);
  return {
    operationId: id,
    kind,
    service: state.service,
    version,
    slot,
    slotUrl: serviceConfig(deps, state.service).slots[slot].url,
    by,
    productionVersion: state.slots[state.production].version,
  };
}

async function startDeploy(
  deps: Uses<ServicePorts | 'ids' | 'scheduler'>,
  state: ServiceState,
  kind: DeployKind,
  version: string,
  by: string,
  releaseType: ServiceState['slots']['blue']['releaseType'],
): Promise<DeployNotice> {
  if (state.operation !== null) throw busyError(state.service, state.operation);
  const now = deps.clock.now();
  const id = deps.ids.next(kind);
  const slot = standbyOf(state);
  const next: ServiceState = {
    ...withSlot(
      state,
      slot,
      {
        version: state.slots[slot].version,
        health: 'deploying',
        ...(releaseType ? { releaseType } : {}),
      },
      now,
    ),
    operation: { id, kind, by, startedAt: now.toISOString(), version },
    revision: state.revision + 1,
  };
  await commitService(deps, state, next);
  await deps.scheduler.enqueue({ step: 'deploy', service: state.service, operationId: id });
  const started = notice(deps, state, kind, version, by, id);
  await deps.notifier.deployStarted(started);
  return started;
}

/** Faulty versions from `version` on, as far as a bump could step (patch by patch). */
async function faultyAbove(
  deps: Uses<'faulty'>,
  service: string,
  version: string,
): Promise<Set<string>> {
  const faulty = new Set<string>();
  let candidate: string | undefined = version;
  for (let i = 0; i < 50 && candidate !== undefined; i += 1) {
    if ((await deps.faulty.get(service, candidate)) === null) break;
    faulty.add(candidate);
    candidate = firstUsable(candidate, (v) => v === candidate);
  }
  return faulty;
}

/** `/bump`: the next version from PRODUCTION's, deployed to STANDBY by a worker. */
export async function requestBump(
  deps: Uses<ServicePorts | 'faulty' | 'ids' | 'scheduler'>,
  request: { service: string; target: BumpTarget; by: string },
): Promise<Answer> {
  const state = await currentState(deps, request.service);
  if (state.operation !== null) throw busyError(request.service, state.operation);
  const production = state.slots[state.production].version ?? '0.0.0';
  const next = nextVersion(production, request.target);
  if (!next.ok) {
    throw new ReleaseError(
      'bad_version',
      `${next.given} is not newer than PRODUCTION's ${production}.`,
      `Give a version above ${production}, or a level: /bump ${request.service} patch`,
    );
  }
  const calendar = checkCalendar(deps);
  if (!calendar.open && next.type !== 'hotfix')
    throw closedError(deps, request.service, calendar.description, 'bump');
  // A level (patch, minor…) steps past versions that were rolled back; an explicit version that
  // was is refused, naming one that would work.
  const faulty = await faultyAbove(deps, request.service, next.version);
  const usable = firstUsable(next.version, (v) => faulty.has(v));
  if ('level' in request.target && usable !== undefined && usable !== next.version) {
    next.version = usable;
  } else if (faulty.has(next.version)) {
    await refuseFaulty(
      deps,
      request.service,
      next.version,
      `it cannot be deployed again${usable ? `; /bump ${request.service} ${usable} would work` : ''}`,
    );
  }
  const started = await startDeploy(deps, state, 'bump', next.version, request.by, next.type);
  const channel = serviceConfig(deps, request.service).channel;
  return {
    message: `Deploying ${request.service} ${next.version} (${next.type}) to STANDBY (${started.slot}).`,
    hint: `The result appears in <#${channel}>; then test ${started.slotUrl} and /release ${request.service}.`,
  };
}

/** `/sync`: PRODUCTION's version deployed onto STANDBY, so both slots match again. */
export async function requestSync(
  deps: Uses<ServicePorts | 'faulty' | 'ids' | 'scheduler'>,
  request: { service: string; by: string },
): Promise<Answer> {
  await refuseDuringStabilityWindow(deps, request.service);
  const state = await currentState(deps, request.service);
  if (state.operation !== null) throw busyError(request.service, state.operation);
  const production = state.slots[state.production].version;
  const standby = state.slots[standbyOf(state)];
  if (production === null) throw new Error(`production version of ${request.service} is unknown`);
  if (standby.version === production && standby.health === 'healthy') {
    throw new ReleaseError(
      'nothing_to_release',
      `STANDBY (${standbyOf(state)}) already runs ${production}, like PRODUCTION, and is healthy.`,
      `Nothing to sync. Next: /bump ${request.service} to deploy a new version.`,
    );
  }
  await refuseFaulty(deps, request.service, production, 'it cannot be synced');
  const started = await startDeploy(deps, state, 'sync', production, request.by, undefined);
  return {
    message: `Syncing STANDBY (${started.slot}) of ${request.service} to PRODUCTION's ${production}.`,
    hint: `The result appears in <#${serviceConfig(deps, request.service).channel}>.`,
  };
}

/**
 * The worker step behind /bump and /sync. Safe to run twice: it acts only while the service's
 * operation is still this one, and a deploy of the same version to the same slot is idempotent.
 */
export async function runDeployStep(
  deps: Uses<ServicePorts | 'deployer' | 'isStopping' | 'locks' | 'readyTimeoutMs' | 'sleep'>,
  job: { service: string; operationId: string },
): Promise<void> {
  const state = await currentState(deps, job.service);
  const op = state.operation;
  if (
    op === null ||
    op.id !== job.operationId ||
    op.version === undefined ||
    (op.kind !== 'bump' && op.kind !== 'sync')
  ) {
    deps.log.info({ ...job }, 'deploy step has nothing to do (already finished or superseded)');
    return;
  }
  const slot = standbyOf(state);
  const version = op.version;
  const details = notice(deps, state, op.kind, version, op.by, op.id);
  const deployed = await deployOntoSlot(deps, {
    service: job.service,
    slot,
    version,
    id: op.id,
    stillWanted: async () => (await deps.store.getService(job.service))?.operation?.id === op.id,
  });
  if (!deployed.ok && deployed.cancelled) {
    deps.log.info(
      { ...job },
      'deploy cancelled: the operation was ended (a rollback preempted it)',
    );
    await deps.notifier.deployFinished(details, {
      ok: false,
      reason: `cancelled: a rollback of ${job.service} took over ${slot}`,
    });
    return;
  }
  const outcome: { ok: true } | { ok: false; reason: string; outputTail?: string } = deployed;

  // Record the outcome; retry on a lost race as long as the operation is still ours.
  for (let attempt = 0; attempt < 5; attempt += 1) {
    const latest = await currentState(deps, job.service);
    if (latest.operation?.id !== op.id) return;
    const now = deps.clock.now();
    const previous = latest.slots[slot];
    const slotState = outcome.ok
      ? {
          version,
          health: 'healthy' as const,
          ...(previous.releaseType ? { releaseType: previous.releaseType } : {}),
        }
      : { version: null, health: 'failed' as const, note: outcome.reason };
    const next: ServiceState = {
      ...withSlot(latest, slot, slotState, now),
      operation: null,
      revision: latest.revision + 1,
    };
    if (await deps.store.commit({ service: { next, expected: latest.revision } })) {
      await audit(deps, {
        who: 'greenlight',
        what: `${op.kind} ${version} to ${slot}: ${outcome.ok ? 'healthy' : `failed (${outcome.reason})`}`,
        service: job.service,
        before: latest.slots[slot],
        after: next.slots[slot],
      });
      await deps.notifier.deployFinished(details, outcome);
      // The last release's message shows both slots: keep its STANDBY line true.
      const last = next.lastReleaseId ? await deps.store.getRelease(next.lastReleaseId) : null;
      if (last !== null) await deps.notifier.releaseChanged(last, next);
      return;
    }
  }
  throw new Error(`could not record the deploy of ${job.service} ${version}: state kept changing`);
}
