import { missingRoles } from '../domain/release.ts';
import { releaseTypeRule } from '../domain/release-policy.ts';
import { standbyOf } from '../domain/service-state.ts';
import type { Slot } from '../domain/slots.ts';
import { nextVersion, releaseTypeOf } from '../domain/version.ts';
import type { Answer } from './answer.ts';
import { type AppDeps, serviceConfig } from './app-deps.ts';
import type { CommandRequest } from './command-requests.ts';
import { ReleaseError } from './release-error.ts';
import { checkWindow } from './release-window.ts';
import { busyError, currentState } from './service-access.ts';
import { refuseFaulty } from './use-cases/release-history.ts';
import { checkReleasable, freezeExceptionFor } from './use-cases/start-release.ts';

type Planned = Exclude<
  CommandRequest,
  { kind: 'release-help' | 'release-status' | 'release-history' | 'release-unmark' }
>;

function deployLine(deps: AppDeps, service: string, version: string, slot: Slot): string {
  const config = serviceConfig(deps, service);
  const how =
    'command' in config.deploy
      ? `runs \`${config.deploy.command.join(' ')}\` (no shell, killed after ${config.deploy.timeoutSeconds} s)`
      : `POSTs to ${config.deploy.webhook.url}`;
  return `Deploy: ${how} with GREENLIGHT_VERSION=${version} GREENLIGHT_SLOT=${slot} GREENLIGHT_SLOT_URL=${config.slots[slot].url}; then waits for ${config.health.successes} passing probes of ${config.health.path} and version ${version}.`;
}

function haproxyLines(deps: AppDeps, service: string, to: Slot): string {
  const traffic = serviceConfig(deps, service).traffic;
  if (!('haproxy' in traffic)) return `Traffic: switch to ${to}.`;
  const { backend, servers, runtimeApi } = traffic.haproxy;
  const from = to === 'blue' ? 'green' : 'blue';
  return `HAProxy (${runtimeApi}): \`set server ${backend}/${servers[to]} state ready\`, \`set weight ${backend}/${servers[to]} 100\`, wait until running, then \`set server ${backend}/${servers[from]} state drain\` (kept warm).`;
}

async function approversLine(
  deps: AppDeps,
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

/** Runs a check and turns its refusal into a line of the plan instead of an error. */
async function wouldPass(check: () => Promise<unknown> | unknown): Promise<string | undefined> {
  try {
    await check();
    return undefined;
  } catch (error) {
    if (error instanceof ReleaseError) return `Would be refused: ${error.message} ${error.hint}`;
    throw error;
  }
}

/** `--dry-run`: what the command would do, privately, changing nothing. */
export async function planCommand(deps: AppDeps, request: Planned, by: string): Promise<Answer> {
  const state = await currentState(deps, request.service);
  const standby = standbyOf(state);
  const production = state.slots[state.production].version ?? '0.0.0';
  const window = checkWindow(deps);
  const lines: string[] = [];
  const refusal = async (check: () => Promise<unknown> | unknown) => {
    const line = await wouldPass(check);
    if (line !== undefined) lines.push(line);
  };
  await refusal(() => {
    if (state.operation !== null) throw busyError(request.service, state.operation);
  });
  lines.push(
    window.open
      ? 'Calendar: open for releases.'
      : `Calendar: ${request.service} is ${window.description}.`,
  );

  switch (request.kind) {
    case 'bump': {
      const next = nextVersion(production, request.target);
      if (!next.ok) {
        lines.push(`Would be refused: ${next.given} is not newer than PRODUCTION's ${production}.`);
        break;
      }
      if (!window.open && next.type !== 'hotfix')
        lines.push('Would be refused: only a hotfix passes now.');
      await refusal(() =>
        refuseFaulty(deps, request.service, next.version, 'it cannot be deployed again'),
      );
      lines.push(
        `Version: ${production} → ${next.version} (${next.type}) on STANDBY (${standby}); PRODUCTION (${state.production}) is not touched.`,
      );
      lines.push(deployLine(deps, request.service, next.version, standby));
      break;
    }
    case 'sync':
      lines.push(`Version: STANDBY (${standby}) gets PRODUCTION's ${production}.`);
      lines.push(deployLine(deps, request.service, production, standby));
      break;
    case 'release': {
      const candidate = state.slots[standby];
      const type =
        candidate.releaseType ??
        (candidate.version ? releaseTypeOf(production, candidate.version) : 'patch');
      const rule = releaseTypeRule(type, serviceConfig(deps, request.service).releaseTypes);
      let roles: readonly string[] = rule.approvals;
      await refusal(() => {
        const exception = freezeExceptionFor(deps, request.service, type, request.justification);
        if (exception) roles = [...new Set([...roles, exception.role])];
      });
      if (candidate.version)
        await refusal(() =>
          refuseFaulty(
            deps,
            request.service,
            candidate.version ?? '',
            'it cannot be released again',
          ),
        );
      await refusal(() => checkReleasable(deps, state));
      lines.push(
        `Release: ${production} → ${candidate.version ?? 'nothing'} (${type}), ${state.production} → ${standby}.`,
      );
      lines.push(await approversLine(deps, roles, by));
      const gates = serviceConfig(deps, request.service).gates;
      if (gates.length > 0 && candidate.version !== null) {
        // Gates are checks, so the plan runs them: it shows what would stop the release now.
        const results = await deps.gates.run(request.service, {
          version: candidate.version,
          slot: standby,
        });
        lines.push(
          `Gates before the approval request: ${gates.map((g) => `${g.name} (${g.type}, ${g.blocking ? 'blocking' : 'advisory'})`).join(', ')}.`,
        );
        for (const r of results)
          lines.push(`  ${r.ok ? 'passes' : 'fails'}: ${r.name}: ${r.detail}`);
        const blocking = results.filter((r) => !r.ok && r.blocking);
        if (blocking.length > 0) {
          lines.push(
            `Would be refused: Pre-release gates failed (${blocking.map((r) => r.name).join(', ')}).`,
          );
        }
      }
      lines.push(haproxyLines(deps, request.service, standby));
      lines.push(
        `Rollback target: ${state.production} (${production}), kept warm; window ${rule.rollbackWindowMinutes / 60} h.`,
      );
      break;
    }
    case 'rollback': {
      const release = state.lastReleaseId ? await deps.store.getRelease(state.lastReleaseId) : null;
      if (
        release === null ||
        !['awaiting_approval', 'switching', 'released', 'rolling_back'].includes(release.state)
      ) {
        lines.push(`Would be refused: ${request.service} has no live release to roll back.`);
        break;
      }
      if (release.state === 'awaiting_approval') {
        lines.push(
          `Would cancel the pending release of ${release.version} (still missing ${missingRoles(release).join(', ')}); no traffic moves.`,
        );
        break;
      }
      const target = release.fromSlot;
      const warm = state.slots[target].version === release.fromVersion;
      lines.push(
        `Rollback: traffic back to ${target} (${release.fromVersion}); ${release.version} stays on ${release.toSlot}.`,
      );
      if (!warm)
        lines.push(`First: ${deployLine(deps, request.service, release.fromVersion, target)}`);
      lines.push(haproxyLines(deps, request.service, target));
      const rule = releaseTypeRule(release.type, serviceConfig(deps, request.service).releaseTypes);
      if (
        release.releasedAt &&
        Date.parse(release.releasedAt) + rule.rollbackWindowMinutes * 60_000 <
          deps.clock.now().getTime()
      ) {
        lines.push('Outside the rollback window: needs a reason and an approval from lead.');
      }
      lines.push(`Alert: posted to <#${deps.config.alertsChannel}> and the release thread.`);
      break;
    }
  }
  return {
    message: `Dry run of /${request.kind} ${request.service}: nothing was changed.`,
    details: [lines.join('\n')],
    hint: 'Run it again without --dry-run to do it.',
  };
}
