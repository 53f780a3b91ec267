import { describeOutcomes, type FlagOutcome, flagsLeftOn } from '../../domain/flags.ts';
import type { Release } from '../../domain/release.ts';
import { audit, serviceConfig, type Uses } from '../app-deps.ts';

/** A provider call that hangs past this never holds up the traffic rollback behind it. */
const GUARD_MS = 500;

function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/**
 * The rollback's first step (seed 002: flip flags before any artifact is touched): every flag the
 * release left on is turned off, all at once, each call bounded. Never throws: a flag that could
 * not be changed is an outcome to report, and the traffic rollback goes on regardless.
 */
export async function turnOffReleaseFlags(
  deps: Uses<'audit' | 'clock' | 'config' | 'flags' | 'log' | 'notifier'>,
  release: Release,
): Promise<FlagOutcome[]> {
  const left = flagsLeftOn(release.flags);
  if (left.length === 0) return [];
  const config = serviceConfig(deps, release.service);
  const timeoutMs = (deps.config.flagProviders.unleash?.timeoutMs ?? 2000) + GUARD_MS;
  const outcomes = await Promise.all(
    left.map(async ({ name }): Promise<FlagOutcome> => {
      const flag = config.flags.find((f) => f.name === name);
      const provider = deps.flags;
      if (flag === undefined || provider === undefined)
        return { name, ok: false, detail: 'no longer configured in greenlight.yml' };
      try {
        await withDeadline(provider.disable({ name, environment: flag.environment }), timeoutMs);
        return { name, ok: true, detail: 'off' };
      } catch (error) {
        return { name, ok: false, detail: (error as Error).message.slice(0, 300) };
      }
    }),
  );
  await audit(deps, {
    who: 'greenlight',
    what: `rollback turned off flags first: ${describeOutcomes(outcomes)}`,
    service: release.service,
    releaseId: release.id,
    after: outcomes,
  });
  const failed = outcomes.filter((o) => !o.ok);
  await deps.notifier.releaseNote(
    release,
    `flags-${release.revision}`,
    failed.length === 0
      ? `Rollback step 1: flags turned off (${outcomes.map((o) => o.name).join(', ')}). Step 2: traffic.`
      : `Rollback step 1: could not turn off ${failed.map((o) => `${o.name} (${o.detail})`).join(', ')}${
          failed.length < outcomes.length
            ? `; turned off ${outcomes
                .filter((o) => o.ok)
                .map((o) => o.name)
                .join(', ')}`
            : ''
        }. Turn ${failed.length === 1 ? 'it' : 'them'} off in the provider by hand. Step 2, the traffic rollback, goes on.`,
  );
  return outcomes;
}
