import type { FlagConfig } from '../../config/flags-schema.ts';
import { describeFlagState, type FlagChange, percentAfter } from '../../domain/flags.ts';
import type { Release } from '../../domain/release.ts';
import type { Answer } from '../answer.ts';
import {
  audit,
  type EventPorts,
  type ServicePorts,
  serviceConfig,
  type Uses,
} from '../app-deps.ts';
import { FlagProviderError, type FlagRef } from '../flag-ports.ts';
import { checkCalendar } from '../release-calendar.ts';
import { ReleaseError } from '../release-error.ts';
import { runEvent } from '../release-runner.ts';
import { currentState } from '../service-access.ts';
import {
  checkFlagRamp,
  describeRamp,
  offAgainIfRolledBack,
  providerHint,
  startFlagRamp,
} from './flag-ramp.ts';

/** The release a flag change belongs to: the live one (in progress, or released and current). */
async function liveRelease(deps: Uses<ServicePorts>, service: string): Promise<Release | null> {
  const state = await currentState(deps, service);
  if (state.lastReleaseId === null) return null;
  const release = await deps.store.getRelease(state.lastReleaseId);
  if (release === null) return null;
  const live = ['switching', 'ramping', 'observing', 'released', 'rolling_back'];
  return live.includes(release.state) ? release : null;
}

export function flagConfig(deps: Uses<'config'>, service: string, name: string): FlagConfig {
  const flags = serviceConfig(deps, service).flags;
  const flag = flags.find((f) => f.name.toLowerCase() === name.toLowerCase());
  if (flag === undefined)
    throw new ReleaseError(
      'not_available',
      flags.length === 0
        ? `${service} has no flags configured.`
        : `${service} has no flag called ${name.slice(0, 60)}.`,
      flags.length === 0
        ? `List them under services.${service}.flags in greenlight.yml.`
        : `Its flags: ${flags.map((f) => f.name).join(', ')}.`,
    );
  return flag;
}

/** Performs one change at the provider; off is a single call, so a kill switch is one request. */
async function apply(deps: Uses<'flags'>, ref: FlagRef, change: FlagChange): Promise<void> {
  const flags = deps.flags;
  if (flags === undefined)
    throw new FlagProviderError('unreachable', 'no flag provider is configured');
  if (change.kind === 'off') return flags.disable(ref);
  await flags.setPercent(ref, percentAfter(change));
  await flags.enable(ref);
}

/**
 * `/flag <service> <flag> on|off|<percent> [reason]`. Turning a flag off is the kill switch: it
 * acts at once, whatever the calendar says, and is announced in the alerts channel. Turning one
 * on or up moves exposure like traffic does, so it respects the calendar.
 */
export async function setFlag(
  deps: Uses<EventPorts | 'comms' | 'directory' | 'flags'>,
  request: {
    service: string;
    flag: string;
    change: FlagChange;
    by: string;
    reason?: string;
    dryRun?: boolean;
  },
): Promise<Answer> {
  const { service, change, by } = request;
  const flag = flagConfig(deps, service, request.flag);
  // Pulling a kill switch is the first mitigation: any operator of /flag may, without its role.
  const killSwitch = flag.killSwitch && change.kind === 'off';
  if (flag.role !== undefined && !killSwitch) {
    const members = await deps.directory.members(deps.config.roles[flag.role] ?? []);
    if (!members.includes(by))
      throw new ReleaseError(
        'not_allowed',
        `Only ${flag.role} may change the flag ${flag.name} of ${service}.`,
        flag.killSwitch
          ? `Ask someone in ${flag.role}; turning it off (its kill switch) is open to every /flag operator.`
          : `Ask someone in ${flag.role}.`,
      );
  }
  const release = await liveRelease(deps, service);
  const target = `${flag.name} (${flag.provider}, ${flag.environment})`;
  if (change.kind === 'ramp') {
    if (!request.dryRun) return startFlagRamp(deps, service, release, flag, by);
    // A dry run is refused for what the ramp itself would be refused for.
    await checkFlagRamp(deps, service, release, flag, by);
    return {
      message: `Dry run of /flag ${service}: nothing was changed.`,
      details: [`Would start the ramp of ${target}: ${describeRamp(deps, service, flag)}.`],
      hint: 'Run it again without --dry-run to do it.',
    };
  }
  const percent = percentAfter(change, flag.rollout);
  if (percent > 0) {
    const calendar = checkCalendar(deps);
    if (!calendar.open)
      throw new ReleaseError(
        'frozen',
        `${service} is ${calendar.description}: turning ${flag.name} on or up is a release too.`,
        `Turning it off is always allowed: /flag ${service} ${flag.name} off`,
      );
  }
  const ref: FlagRef = { name: flag.name, environment: flag.environment };
  if (percent > 0 && release?.state === 'rolling_back')
    throw new ReleaseError(
      'release_in_progress',
      `${service} ${release.version} is rolling back: its flags stay off until that ends.`,
      `See /release status ${service}.`,
    );
  if (request.dryRun)
    return {
      message: `Dry run of /flag ${service}: nothing was changed.`,
      details: [`Would set ${target} ${describeFlagState(percent)}.`],
      hint: 'Run it again without --dry-run to do it.',
    };
  const record = (p: number, reason = request.reason) =>
    release
      ? runEvent(deps, release.id, {
          type: 'flag_set',
          user: by,
          name: flag.name,
          percent: p,
          ...(reason ? { reason } : {}),
        }).catch((error: unknown) => {
          deps.log.warn({ service, err: error }, 'could not record the flag on the release');
          return undefined;
        })
      : Promise.resolve(undefined);
  // The kill switch reads nothing first: the off call is the first request sent.
  const before = percent === 0 ? undefined : await deps.flags?.read(ref).catch(() => undefined);
  // Turning on is recorded first, so a crash after the provider call still leaves the flag for a
  // rollback to turn off; turning off is recorded after it worked, so a failed off stays listed.
  let applied = percent > 0 ? await record(percent) : undefined;
  if (percent > 0 && release && applied === undefined)
    throw new ReleaseError(
      'not_available',
      `Could not record ${flag.name} on ${service} ${release.version}, so it was not changed: a rollback would not know to turn it off.`,
      `See /release status ${service}, then try again.`,
    );
  try {
    await apply(deps, ref, change);
  } catch (error) {
    const why = error instanceof FlagProviderError ? error.message : (error as Error).message;
    deps.log.warn({ service, flag: flag.name, err: error }, 'flag change failed');
    if (applied)
      await record(
        release?.flags?.find((f) => f.name === flag.name)?.percent ?? 0,
        'the provider did not take the change',
      );
    throw new ReleaseError(
      'not_available',
      `Could not change ${target}: ${why}.`,
      percent === 0
        ? `Turn it off in Unleash directly, or roll back traffic: /rollback ${service} <reason>`
        : providerHint(error, flag.provider),
    );
  }
  if (percent === 0) applied = await record(0);
  else if (release && (await offAgainIfRolledBack(deps, release.id, flag)))
    throw new ReleaseError(
      'release_in_progress',
      `${service} ${release.version} started rolling back meanwhile: ${flag.name} was turned off again.`,
      `See /release status ${service}.`,
    );
  const after = await deps.flags?.read(ref).catch(() => undefined);
  const now =
    after === undefined
      ? describeFlagState(percent)
      : describeFlagState(after.enabled ? after.percent : 0);
  await audit(deps, {
    who: by,
    what: `flag ${flag.name} ${describeFlagState(percent)}${request.reason ? `: ${request.reason}` : ''}`,
    service,
    ...(before ? { before } : {}),
    after,
  });
  await deps.notifier.flagChanged({
    service,
    flag: flag.name,
    environment: flag.environment,
    by,
    percent,
    ...(request.reason ? { reason: request.reason } : {}),
    ...(applied ? { release: applied.release } : {}),
  });
  return {
    message: `${target} is ${now} now.`,
    ...(percent === 0
      ? {
          hint: `Announced in <#${deps.config.alertsChannel}>${applied ? ' and the release thread' : ''}.`,
        }
      : {}),
  };
}
