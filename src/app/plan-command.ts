import { checklistPlan } from '../domain/checklist.ts';
import { flagsLeftOn } from '../domain/flags.ts';
import { ACTIVE_STATES, missingRoles, type Release } from '../domain/release.ts';
import { releaseTypeRule } from '../domain/release-policy.ts';
import { type AudienceEntry, describeAudience } from '../domain/rings.ts';
import { type ServiceState, standbyOf } from '../domain/service-state.ts';
import type { Slot } from '../domain/slots.ts';
import { releaseTypeOf } from '../domain/version.ts';
import type { Answer } from './answer.ts';
import { type AppDeps, serviceConfig, type Uses } from './app-deps.ts';
import type { CommandRequest } from './command-requests.ts';
import { type Rehearsal, rehearse } from './dry-run.ts';
import { plannedSteps, stepsPlanLine } from './pre-switch-job.ts';
import { checkCalendar } from './release-calendar.ts';
import { wantedAudience } from './ring-traffic.ts';

type Planned = Exclude<
  CommandRequest,
  { kind: 'release-help' | 'release-status' | 'release-history' | 'release-unmark' | 'flag' }
>;

function deployLine(deps: Uses<'config'>, service: string, version: string, slot: Slot): string {
  const config = serviceConfig(deps, service);
  const how =
    'command' in config.deploy
      ? `runs \`${config.deploy.command.join(' ')}\` (no shell, killed after ${config.deploy.timeoutSeconds} s)`
      : `POSTs to ${config.deploy.webhook.url}`;
  return `Deploy: ${how} with GREENLIGHT_VERSION=${version} GREENLIGHT_SLOT=${slot} GREENLIGHT_SLOT_URL=${config.slots[slot].url}; then waits for ${config.health.successes} passing probes of ${config.health.path} and version ${version}.`;
}

function haproxyLines(deps: Uses<'config'>, service: string, to: Slot): string {
  const traffic = serviceConfig(deps, service).traffic;
  if (!('haproxy' in traffic)) return `Traffic: switch to ${to}.`;
  const { backend, servers, runtimeApi, instances, order } = traffic.haproxy;
  const from = to === 'blue' ? 'green' : 'blue';
  const where =
    instances === undefined
      ? `HAProxy (${runtimeApi})`
      : `On each of ${instances.length} HAProxy instances (${instances.map((i) => i.name).join(', ')}; ${order === 'region' ? 'region by region' : 'all at once'})`;
  return `${where}: \`set server ${backend}/${servers[to]} state ready\`, \`set weight ${backend}/${servers[to]} 100\`, wait until running, then \`set server ${backend}/${servers[from]} state drain\` (kept warm).`;
}

async function approversLine(
  deps: Uses<'config' | 'directory'>,
  roles: readonly string[],
  requester: string,
): Promise<string> {
  const parts = await Promise.all(
    roles.map(async (role) => {
      const people = (await deps.directory.members(deps.config.roles[role] ?? [])).filter(
        (u) => u !== requester,
      );
      return `${role} (${people.map((u) => `<@${u}>`).join(', ') || 'nobody available'})`;
    }),
  );
  return `Approvals needed: ${parts.join(' and ') || 'none'}; each by a different person, never the requester.`;
}

/**
 * `--dry-run`: the command itself runs against recording adapters (see dry-run.ts), so the plan
 * and the command can never disagree; its answer or refusal is the verdict. The lines around it
 * spell out what the command would do, read from what it would have written.
 */
export async function planCommand(
  deps: AppDeps,
  request: Planned,
  by: string,
  perform: (deps: AppDeps) => Promise<Answer>,
): Promise<Answer> {
  const rehearsal = await rehearse(deps, perform);
  const state =
    rehearsal.services.get(request.service) ?? (await deps.store.getService(request.service));
  const calendar = checkCalendar(deps);
  const lines: string[] = [
    rehearsal.outcome.ok
      ? `Would do: ${rehearsal.outcome.answer.message}`
      : rehearsal.outcome.refusal.code === 'needs_reason'
        ? `Would ask for a reason first: ${rehearsal.outcome.refusal.message}`
        : `Would be refused: ${rehearsal.outcome.refusal.message} ${rehearsal.outcome.refusal.hint}`,
    calendar.open
      ? 'Calendar: open for releases.'
      : `Calendar: ${request.service} is ${calendar.description}.`,
  ];
  if (state !== null) lines.push(...(await describe(deps, request, by, state, rehearsal)));
  return {
    message: `Dry run of /${request.kind} ${request.service}: nothing was changed.`,
    details: [lines.join('\n')],
    hint: 'Run it again without --dry-run to do it.',
  };
}

/** The steps behind the verdict, from the state the command would have left. */
async function describe(
  deps: Uses<'config' | 'directory' | 'store'>,
  request: Planned,
  by: string,
  state: ServiceState,
  rehearsal: Rehearsal,
): Promise<string[]> {
  const lines: string[] = [];
  const standby = standbyOf(state);
  const production = state.slots[state.production].version ?? '0.0.0';
  switch (request.kind) {
    case 'bump':
    case 'sync': {
      const op = state.operation;
      if (!rehearsal.outcome.ok || op === null || op.version === undefined) break;
      const type = state.slots[standby].releaseType;
      lines.push(
        request.kind === 'bump'
          ? `Version: ${production} → ${op.version}${type ? ` (${type})` : ''} on STANDBY (${standby}); PRODUCTION (${state.production}) is not touched.`
          : `Version: STANDBY (${standby}) gets PRODUCTION's ${production}.`,
      );
      lines.push(deployLine(deps, request.service, op.version, standby));
      break;
    }
    case 'release': {
      const created = [...rehearsal.releases.values()].find((r) => r.state === 'awaiting_approval');
      const candidate = state.slots[standby];
      const type =
        created?.type ??
        candidate.releaseType ??
        (candidate.version ? releaseTypeOf(production, candidate.version) : 'patch');
      const rule = releaseTypeRule(type, serviceConfig(deps, request.service).releaseTypes);
      lines.push(
        `Release: ${production} → ${candidate.version ?? 'nothing'} (${type}), ${state.production} → ${standby}.`,
      );
      lines.push(await approversLine(deps, created?.requiredRoles ?? rule.approvals, by));
      if (created !== undefined) lines.push(checklistPlan(created.checklist));
      const { gates, dryRunGateCacheSeconds: reuse } = serviceConfig(deps, request.service);
      if (gates.length > 0) {
        lines.push(
          `Gates before the approval request: ${gates.map((g) => `${g.name} (${g.type}, ${g.blocking ? 'blocking' : 'advisory'})`).join(', ')}.${reuse > 0 ? ` A dry run reuses their results for ${reuse} s; /release runs them afresh.` : ''}`,
        );
      }
      const steps = plannedSteps(serviceConfig(deps, request.service));
      if (steps !== undefined) lines.push(stepsPlanLine(steps));
      lines.push(haproxyLines(deps, request.service, standby));
      lines.push(
        `Rollback target: ${state.production} (${production}), kept warm; window ${rule.rollbackWindowMinutes / 60} h.`,
      );
      break;
    }
    case 'rollback': {
      const release = [...rehearsal.releases.values()][0];
      if (!rehearsal.outcome.ok || release === undefined) break;
      // The live release (the rehearsal's copy is already rolling back) says which audiences hold.
      const live = await deps.store.getRelease(release.id);
      const audience = wantedAudience(deps, request.service, live) ?? [];
      lines.push(...rollbackLines(deps, request.service, state, release, audience));
      break;
    }
  }
  return lines;
}

function rollbackLines(
  deps: Uses<'config'>,
  service: string,
  state: ServiceState,
  release: Release,
  audience: readonly AudienceEntry[],
): string[] {
  if (release.state === 'cancelled') {
    return [
      `Would cancel the pending release of ${release.version} (still missing ${missingRoles(release).join(', ') || 'nothing'}); no traffic moves.`,
    ];
  }
  if (release.pendingRollback !== undefined) {
    return ['Outside the rollback window: needs a reason and an approval from lead.'];
  }
  if (!ACTIVE_STATES.includes(release.state)) return [];
  const target = release.fromSlot;
  const flags = flagsLeftOn(release.flags).map((f) => f.name);
  const lines = [
    ...(flags.length
      ? [
          `Step 1 (mitigate): turn off ${flags.join(', ')} at the flag provider, each call bounded; a failure is reported and never stops step 2.`,
          'Step 2 (traffic):',
        ]
      : []),
    `Rollback: traffic back to ${target} (${release.fromVersion}); ${release.version} stays on ${release.toSlot}.`,
    ...(audience.length
      ? [
          `Audiences first: ${describeAudience(audience)} comes off the audience maps, then the weights.`,
        ]
      : []),
  ];
  const preempted = state.slots[target].note;
  if (preempted?.includes('cancelled by a rollback')) lines.push(`First: ${preempted}.`);
  if (state.slots[target].version !== release.fromVersion)
    lines.push(`First: ${deployLine(deps, service, release.fromVersion, target)}`);
  lines.push(haproxyLines(deps, service, target));
  lines.push(`Alert: posted to <#${deps.config.alertsChannel}> and the release thread.`);
  return lines;
}
