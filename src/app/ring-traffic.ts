import type { DesiredTraffic } from '../domain/desired-traffic.ts';
import type { Release } from '../domain/release.ts';
import {
  type AudienceEntry,
  describeAudience,
  ringAudience,
  sameAudience,
} from '../domain/rings.ts';
import { audit, serviceConfig, type Uses } from './app-deps.ts';
import { PartialMoveError } from './ports.ts';

/** The audience entries a ringed service should have now; undefined without rings. */
export function wantedAudience(
  deps: Uses<'config'>,
  service: string,
  release: Release | null,
): AudienceEntry[] | undefined {
  const rings = serviceConfig(deps, service).rings;
  return rings === undefined ? undefined : ringAudience(rings, release);
}

/** What the proxy holds when it differs from what is wanted, in words; undefined when equal. */
export async function audienceOff(
  deps: Uses<'traffic'>,
  service: string,
  wanted: readonly AudienceEntry[] | undefined,
): Promise<string | undefined> {
  if (wanted === undefined) return undefined;
  const held = (await deps.traffic.audience?.(service)) ?? [];
  if (sameAudience(held, wanted)) return undefined;
  return `audience maps hold ${describeAudience(held)}, not ${describeAudience(wanted)}`;
}

/**
 * Sets the proxy's audience entries (every ring reached so far → the new slot, or none), reads
 * them back and audits the change. Called by the reconciler only, like the weights.
 */
export async function driveAudience(
  deps: Uses<'audit' | 'clock' | 'log' | 'traffic'>,
  service: string,
  wanted: readonly AudienceEntry[],
  desired: DesiredTraffic,
): Promise<boolean> {
  const held = (await deps.traffic.audience?.(service)) ?? [];
  if (sameAudience(held, wanted)) return false;
  // Some load balancers not reached: what the others now hold is audited all the same.
  const missed = await deps.traffic.setAudience?.(service, wanted).then(
    () => undefined,
    (error: unknown) => {
      if (error instanceof PartialMoveError) return error;
      throw error;
    },
  );
  const after = (await deps.traffic.audience?.(service)) ?? [];
  await audit(deps, {
    who: 'greenlight',
    what: 'audience set',
    service,
    ...(desired.releaseId ? { releaseId: desired.releaseId } : {}),
    before: { audience: held },
    after: { audience: after, because: desired.because },
  });
  if (missed !== undefined) throw missed;
  if (!sameAudience(after, wanted))
    throw new Error(`after the change the ${await audienceOff(deps, service, wanted)}`);
  return true;
}

/** `/release status` for a release walking rings: each ring, where it stands, and the audience held. */
export async function ringLines(
  deps: Uses<'clock' | 'traffic'>,
  release: Release,
): Promise<string[]> {
  const canary = release.canary;
  if (canary?.rings === undefined) return [];
  const live = release.state === 'ramping' || release.state === 'switching';
  const lines = canary.rings.map((ring, i) => {
    const where =
      !live && release.state !== 'awaiting_approval'
        ? ''
        : i < canary.stepIndex
          ? canary.unproven?.includes(i)
            ? ' · promoted without evidence'
            : ' · passed'
          : i === canary.stepIndex
            ? ` · now, soak left ${Math.max(0, Math.ceil(ring.soakMinutes - (deps.clock.now().getTime() - Date.parse(canary.stepStartedAt)) / 60_000))} min`
            : ' · next';
    return `· ring ${ring.name}: ${ring.who}${where}`;
  });
  const held = await deps.traffic.audience?.(release.service).catch(() => undefined);
  if (held !== undefined) lines.push(`· HAProxy audience: ${describeAudience(held)}`);
  return lines;
}
