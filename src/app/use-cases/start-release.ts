import type { ServiceConfig } from '../../config/greenlight-schema.ts';
import { checklistRules, newChecklist } from '../../domain/checklist.ts';
import type { Release } from '../../domain/release.ts';
import { releaseTypeRule } from '../../domain/release-policy.ts';
import { ringStages, ringSteps } from '../../domain/rings.ts';
import { type ServiceState, standbyOf } from '../../domain/service-state.ts';
import { isNewer, releaseTypeOf } from '../../domain/version.ts';
import type { Answer } from '../answer.ts';
import { type AppDeps, type ServicePorts, serviceConfig, type Uses } from '../app-deps.ts';
import type { GateResult } from '../ports.ts';
import { plannedSteps } from '../pre-switch-job.ts';
import { checkCalendar, closedError } from '../release-calendar.ts';
import { ReleaseError } from '../release-error.ts';
import { busyError, currentState } from '../service-access.ts';
import { refuseFaulty } from './release-history.ts';
import { readReleaseNotes } from './release-notes.ts';

function gateLines(gates: readonly GateResult[]): string {
  return gates
    .map(
      (g) =>
        `${g.ok ? '✅' : g.blocking ? '❌' : '⚠️'} ${g.name}${g.blocking ? '' : ' (advisory)'}: ${g.detail}`,
    )
    .join('\n');
}

/** The checks before anything is asked of anyone: refusals leave every state untouched. */
export async function checkReleasable(
  deps: Uses<'config' | 'probe' | 'traffic'>,
  state: ServiceState,
): Promise<{ version: string; production: string }> {
  const service = state.service;
  const standby = standbyOf(state);
  const production = state.slots[state.production].version ?? '0.0.0';
  const slot = state.slots[standby];
  if (slot.version === null || slot.health === 'failed') {
    throw new ReleaseError(
      'nothing_to_release',
      slot.health === 'failed'
        ? `STANDBY (${standby}) failed its last deploy: ${slot.note ?? 'unknown reason'}.`
        : `STANDBY (${standby}) runs no version Greenlight knows.`,
      `Deploy a new version first: /bump ${service}`,
    );
  }
  if (slot.version === production) {
    throw new ReleaseError(
      'nothing_to_release',
      `Nothing to release: STANDBY (${standby}) runs ${slot.version}, the same as PRODUCTION (${state.production}).`,
      `Deploy a new version first: /bump ${service}`,
    );
  }
  if (!isNewer(slot.version, production)) {
    throw new ReleaseError(
      'nothing_to_release',
      `STANDBY (${standby}) runs ${slot.version}, older than PRODUCTION's ${production}.`,
      `Deploy a newer version: /bump ${service}`,
    );
  }
  const health = await deps.probe.health(service, standby);
  if (!health.ok) {
    throw new ReleaseError(
      'not_available',
      `STANDBY (${standby}) is unhealthy: ${health.reason}.`,
      `Fix it or redeploy with /bump ${service}, then /release ${service} again.`,
    );
  }
  const reported = await deps.probe.version(service, standby);
  if (!reported.ok || reported.version !== slot.version) {
    throw new ReleaseError(
      'not_available',
      `STANDBY (${standby}) should run ${slot.version} but ${reported.ok ? `reports ${reported.version}` : reported.reason}.`,
      `Redeploy it with /bump ${service} ${slot.version}, or /sync ${service}.`,
    );
  }
  let traffic: Awaited<ReturnType<AppDeps['traffic']['inspect']>>;
  try {
    traffic = await deps.traffic.inspect(service);
  } catch (error) {
    throw new ReleaseError(
      'not_available',
      `The traffic switch for ${service} cannot be used: ${(error as Error).message}.`,
      'Check HAProxy and its Runtime API address in greenlight.yml, then try again.',
    );
  }
  const unread = traffic.instances?.filter((i) => i.error !== undefined) ?? [];
  if (unread.length > 0) {
    throw new ReleaseError(
      'not_available',
      `Not every load balancer of ${service} answers: ${unread.map((i) => `${i.name} (${i.region}): ${i.error}`).join('; ')}.`,
      'A switch must reach all of them: bring it back (or remove it from traffic.haproxy.instances), then try again.',
    );
  }
  // Rings route their audiences through HAProxy map files: a missing one would fail ring 0 only
  // after approval, so it is asked for now.
  const unmapped = serviceConfig(deps, service).rings
    ? await deps.traffic.audience?.(service).then(
        () => undefined,
        (error: Error) => error.message,
      )
    : undefined;
  if (unmapped !== undefined)
    throw new ReleaseError(
      'not_available',
      `HAProxy cannot route the rings of ${service}: ${unmapped}.`,
      'Give HAProxy the map files and use-server lines shown in the README (Rings), reload it, then try again.',
    );
  if (traffic.serving.length !== 1 || traffic.serving[0] !== state.production) {
    throw new ReleaseError(
      'not_available',
      `HAProxy sends ${service} traffic to ${traffic.serving.join(' and ') || 'no slot'}, but PRODUCTION is ${state.production}.`,
      'Greenlight corrects this drift when it starts; check HAProxy, restart a Greenlight worker, then try again.',
    );
  }
  return { version: slot.version, production };
}

/**
 * While the calendar is closed only a hotfix passes, with a written justification and an extra
 * approval from the `freezeException` role; both are recorded on the release.
 */
export function freezeExceptionFor(
  deps: Uses<'clock' | 'config'>,
  service: string,
  type: string,
  justification: string | undefined,
): { role: string; justification: string; window: string } | undefined {
  const calendar = checkCalendar(deps);
  if (calendar.open) return undefined;
  const role = deps.config.freezeException;
  if (type !== 'hotfix' || role === undefined)
    throw closedError(deps, service, calendar.description, 'release');
  if (justification === undefined || justification.trim() === '') {
    throw new ReleaseError(
      'frozen',
      `${service} is ${calendar.description}; a hotfix needs a written justification to pass.`,
      `Say why: /release ${service} --justify <why>. It also needs an approval from ${role}.`,
    );
  }
  return { role, justification: justification.trim(), window: calendar.description };
}

/** `/release`: checks, then the release and its approval request, with the service held for it. */
export async function requestRelease(
  deps: Uses<ServicePorts | 'changes' | 'faulty' | 'gates' | 'ids' | 'scheduler'>,
  request: { service: string; by: string; justification?: string },
): Promise<Answer> {
  const state = await currentState(deps, request.service);
  if (state.operation !== null) throw busyError(request.service, state.operation);
  const config = serviceConfig(deps, request.service);
  const standby = standbyOf(state);
  const candidate = state.slots[standby];
  const exception = freezeExceptionFor(
    deps,
    request.service,
    candidate.releaseType ?? 'patch',
    request.justification,
  );
  if (candidate.version !== null) {
    await refuseFaulty(deps, request.service, candidate.version, 'it cannot be released again');
  }
  const { version, production } = await checkReleasable(deps, state);
  const gates = await deps.gates.run(request.service, { version, slot: standby });
  const blocking = gates.filter((g) => !g.ok && g.blocking);
  if (blocking.length > 0) {
    throw new ReleaseError(
      'not_available',
      `Pre-release gates failed for ${request.service} ${version}:\n${gateLines(gates)}`,
      `Fix ${blocking.map((g) => g.name).join(', ')}, then /release ${request.service} again. Nothing was changed.`,
    );
  }
  const type = candidate.releaseType ?? releaseTypeOf(production, version);
  const rule = releaseTypeRule(type, config.releaseTypes);
  const requiredRoles = exception
    ? [...new Set([...rule.approvals, exception.role])]
    : rule.approvals;
  const notes = await readReleaseNotes(deps, request.service, production, version);
  const checklist = newChecklist(
    checklistRules(config.checklists, config.releaseTypes?.[type]?.checklists),
  );
  const now = deps.clock.now();
  const at = now.toISOString();
  const release: Release = {
    id: deps.ids.next('rel'),
    service: request.service,
    version,
    fromVersion: production,
    type,
    strategy: config.strategy,
    requester: request.by,
    requiredRoles,
    ...(config.strategy === 'canary' ? { canary: canaryPlan(config, at) } : {}),
    ...(exception
      ? { freezeException: { justification: exception.justification, window: exception.window } }
      : {}),
    ...(notes ? { notes } : {}),
    ...(plannedSteps(config) ? { steps: plannedSteps(config) } : {}),
    ...(checklist ? { checklist } : {}),
    approvals: [],
    state: 'awaiting_approval',
    fromSlot: state.production,
    toSlot: standby,
    timeline: [
      { at, who: request.by, what: `requested ${type} release ${production} → ${version}` },
    ],
    createdAt: at,
    updatedAt: at,
    revision: 1,
  };
  const next: ServiceState = {
    ...state,
    operation: {
      id: release.id,
      kind: 'release',
      by: request.by,
      startedAt: at,
      version,
      releaseId: release.id,
    },
    lastReleaseId: release.id,
    revision: state.revision + 1,
  };
  const committed = await deps.store.commit({
    service: { next, expected: state.revision },
    release: { next: release, expected: 0 },
  });
  if (!committed) {
    const latest = await currentState(deps, request.service);
    if (latest.operation !== null) throw busyError(request.service, latest.operation);
    throw new ReleaseError(
      'release_in_progress',
      `${request.service} changed while Greenlight was checking it.`,
      'Run /release again.',
    );
  }
  await deps.notifier.releaseChanged(release, next);
  await deps.scheduler.startProgress(release.id, config.progressIntervalMinutes * 60_000);
  if (gates.length > 0)
    await deps.notifier.releaseNote(release, 'gates', `Pre-release gates:\n${gateLines(gates)}`);
  return {
    message: `Release of ${request.service} ${production} → ${version} (${type}) requested.`,
    hint: `It needs approval from ${requiredRoles.join(' and ')}: they click Approve in <#${config.channel}>.`,
  };
}

/** A canary's steps, or with rings, one step per ring (recorded with who is in it). */
function canaryPlan(config: ServiceConfig, at: string): NonNullable<Release['canary']> {
  if (config.rings === undefined)
    return { steps: config.canary.steps, stepIndex: -1, stepStartedAt: at };
  return {
    steps: ringSteps(config.rings),
    stepIndex: -1,
    stepStartedAt: at,
    rings: ringStages(config.rings),
  };
}
