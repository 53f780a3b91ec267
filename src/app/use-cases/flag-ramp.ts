import type { FlagConfig } from '../../config/flags-schema.ts';
import type { Verdict } from '../../domain/analysis.ts';
import type { Release } from '../../domain/release.ts';
import type { Answer } from '../answer.ts';
import { audit, type EventPorts, serviceConfig, type Uses } from '../app-deps.ts';
import { FlagProviderError } from '../flag-ports.ts';
import { closedFor } from '../release-calendar.ts';
import { ReleaseError } from '../release-error.ts';
import { runEvent } from '../release-runner.ts';

/** Sets a flag to `percent` and on: the provider first, so the record never claims more. */
async function moveFlag(deps: Uses<'flags'>, flag: FlagConfig, percent: number): Promise<void> {
  const provider = deps.flags;
  if (provider === undefined)
    throw new FlagProviderError('unreachable', 'no flag provider is configured');
  const ref = { name: flag.name, environment: flag.environment };
  await provider.setPercent(ref, percent);
  await provider.enable(ref);
}

/**
 * A flag turned on or up while a rollback started: the rollback's own step may already have
 * turned it off, so it is turned off again here (the rollback's mitigation wins). True if so.
 */
export async function offAgainIfRolledBack(
  deps: Uses<'flags' | 'notifier' | 'store'>,
  releaseId: string,
  flag: FlagConfig,
): Promise<boolean> {
  const latest = await deps.store.getRelease(releaseId);
  if (latest === null || (latest.state !== 'rolling_back' && latest.state !== 'rolled_back'))
    return false;
  await deps.flags
    ?.disable({ name: flag.name, environment: flag.environment })
    .catch(() => undefined);
  await deps.notifier.releaseNote(
    latest,
    `flag-undone-${flag.name}-${latest.revision}`,
    `Flag ${flag.name} was turned off again: the release is ${latest.state.replace('_', ' ')}.`,
  );
  return true;
}

/**
 * Whether `/flag <service> <flag> ramp` may start now (throws why not). A ramp walks the flag's
 * `rollout` steps in the release's stability window (after the switch, or the last canary step),
 * one hold each, moving on only when the analysis passes, like a canary. Starting it is an
 * approval: it needs a role the release needs, never the requester's own, and the calendar open.
 */
export async function checkFlagRamp(
  deps: Uses<'clock' | 'config' | 'directory'>,
  service: string,
  release: Release | null,
  flag: FlagConfig,
  by: string,
): Promise<Release> {
  if (release === null || release.state !== 'observing')
    throw new ReleaseError(
      'not_available',
      `A flag ramp runs in a release's stability window, after the switch or the last canary step; ${release === null ? 'no release is live' : `the release is ${release.state.replace('_', ' ')}`}.`,
      `Set it by hand instead: /flag ${service} ${flag.name} <percent>`,
    );
  if (release.flagRamp !== undefined)
    throw new ReleaseError(
      'release_in_progress',
      `Flag ${release.flagRamp.name} is ramping in this release already (${release.flagRamp.steps[release.flagRamp.stepIndex]} %).`,
      `Wait for it to finish, or stop it: /flag ${service} ${release.flagRamp.name} off`,
    );
  const members = await deps.directory.members(
    release.requiredRoles.flatMap((role) => deps.config.roles[role] ?? []),
  );
  if (by === release.requester || !members.includes(by))
    throw new ReleaseError(
      'not_allowed',
      `Starting a flag ramp is an approval: it needs ${release.requiredRoles.join(' or ')}, and not the requester.`,
      `Ask ${release.requiredRoles.join(' or ')} to run /flag ${release.service} ${flag.name} ramp`,
    );
  const closed = closedFor(deps, release);
  if (closed !== undefined)
    throw new ReleaseError('frozen', `${closed}.`, 'Start the ramp when the calendar opens.');
  return release;
}

/** What a ramp does, in one sentence (the answer to a dry run). */
export function describeRamp(deps: Uses<'config'>, service: string, flag: FlagConfig): string {
  const hold = serviceConfig(deps, service).canary.holdMinutes;
  return `${flag.rollout.join(' → ')} %, ${hold} min per step, moving on while the analysis passes`;
}

/**
 * Starts the ramp once checkFlagRamp passed. It is recorded on the release before the provider is
 * asked, so a crash between the two still leaves the flag for a rollback to turn off; a provider
 * that does not take it puts the record back as it was, which ends the ramp.
 */
export async function startFlagRamp(
  deps: Uses<EventPorts | 'comms' | 'directory' | 'flags'>,
  service: string,
  live: Release | null,
  flag: FlagConfig,
  by: string,
): Promise<Answer> {
  const release = await checkFlagRamp(deps, service, live, flag, by);
  const first = flag.rollout[0] ?? 100;
  const hold = serviceConfig(deps, release.service).canary.holdMinutes;
  const started = await runEvent(deps, release.id, {
    type: 'flag_ramp',
    user: by,
    name: flag.name,
    steps: flag.rollout,
    holdMinutes: hold,
  });
  try {
    await moveFlag(deps, flag, first);
  } catch (error) {
    await runEvent(deps, release.id, {
      type: 'flag_set',
      user: by,
      name: flag.name,
      percent: release.flags?.find((f) => f.name === flag.name)?.percent ?? 0,
      reason: 'the provider did not take the change',
    }).catch((failure: unknown) =>
      deps.log.warn({ service, err: failure }, 'could not undo the ramp on the release'),
    );
    throw new ReleaseError(
      'not_available',
      `Could not start the ramp of ${flag.name}: ${(error as Error).message}.`,
      providerHint(error, flag.provider),
    );
  }
  if (await settleAfterMove(deps, release.id, flag, started.release.flagRamp?.stepStartedAt))
    throw new ReleaseError(
      'release_in_progress',
      `The ramp of ${flag.name} was stopped while it started (a rollback, or the flag set by hand).`,
      `See /release status ${service}.`,
    );
  return {
    message: `${flag.name} is on for ${first} %: it ramps ${flag.rollout.join(' → ')} %, ${hold} min per step, while the analysis passes.`,
    hint: `Progress is in the release thread; to stop it at once: /flag ${release.service} ${flag.name} off`,
  };
}

/**
 * After the ramp moved a flag at the provider: if a rollback started, or the ramp was stopped by
 * hand (a kill switch) meanwhile, the flag is put back to what the release records, so the
 * ramp's late call never undoes either. True if it had to.
 */
async function settleAfterMove(
  deps: Uses<'flags' | 'notifier' | 'store'>,
  releaseId: string,
  flag: FlagConfig,
  stepStartedAt: string | undefined,
): Promise<boolean> {
  if (await offAgainIfRolledBack(deps, releaseId, flag)) return true;
  const latest = await deps.store.getRelease(releaseId);
  if (latest === null || latest.flagRamp?.stepStartedAt === stepStartedAt) return false;
  const ref = { name: flag.name, environment: flag.environment };
  const recorded = latest.flags?.find((f) => f.name === flag.name)?.percent ?? 0;
  const restore = recorded === 0 ? deps.flags?.disable(ref) : moveFlag(deps, flag, recorded);
  await restore?.catch(() => undefined);
  return true;
}

/**
 * Called after each analysis reading of a release in its stability window: once the step's hold
 * has passed with a pass verdict and the calendar open, the flag moves to its next step. A
 * provider that fails leaves the step where it is; the next reading tries again.
 */
export async function advanceFlagRamp(
  deps: Uses<EventPorts | 'comms' | 'flags'>,
  release: Release,
  verdict: Verdict,
): Promise<void> {
  const ramp = release.flagRamp;
  if (ramp === undefined || release.state !== 'observing' || release.paused !== undefined) return;
  const config = serviceConfig(deps, release.service);
  const held = Date.parse(ramp.stepStartedAt) + config.canary.holdMinutes * 60_000;
  if (deps.clock.now().getTime() < held || verdict.verdict !== 'pass') return;
  const next = ramp.steps[ramp.stepIndex + 1];
  const flag = config.flags.find((f) => f.name === ramp.name);
  if (next !== undefined && flag !== undefined) {
    const closed = closedFor(deps, release);
    if (closed !== undefined) {
      await deps.notifier.releaseNote(
        release,
        `flag-hold-${ramp.stepIndex}`,
        `Flag ${ramp.name} holds at ${ramp.steps[ramp.stepIndex]} %: ${closed}.`,
      );
      return;
    }
    try {
      await moveFlag(deps, flag, next);
      if (await settleAfterMove(deps, release.id, flag, ramp.stepStartedAt)) return;
    } catch (error) {
      await deps.notifier.releaseNote(
        release,
        `flag-fail-${ramp.stepIndex}`,
        `Could not move flag ${ramp.name} to ${next} %: ${(error as Error).message}. It stays at ${ramp.steps[ramp.stepIndex]} %; the next reading tries again.`,
      );
      return;
    }
    await audit(deps, {
      who: 'greenlight',
      what: `flag ${ramp.name} ramped to ${next} %`,
      service: release.service,
      releaseId: release.id,
    });
  }
  await runEvent(deps, release.id, { type: 'flag_ramp_step', stepStartedAt: ramp.stepStartedAt });
}

/** What to do about a failed change: retrying helps an unreachable provider, not a refusal. */
export function providerHint(error: unknown, provider: string): string {
  const code = error instanceof FlagProviderError ? error.code : 'unreachable';
  if (code === 'refused')
    return `Nothing was changed. The token in flagProviders.${provider}.tokenEnv needs the rights the README names (Setting up Unleash); fix it and try again.`;
  if (code === 'not_found')
    return `Nothing was changed. Check that the flag and its environment exist in ${provider} as greenlight.yml names them.`;
  return 'Nothing was changed. Try again once the provider answers.';
}
