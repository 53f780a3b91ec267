import type { Release } from '../../domain/release.ts';
import { userText } from '../../domain/user-text.ts';
import type { Answer } from '../answer.ts';
import { audit, type Uses } from '../app-deps.ts';
import { ReleaseError } from '../release-error.ts';

function duration(release: Release): string {
  const minutes = Math.round(
    (Date.parse(release.updatedAt) - Date.parse(release.createdAt)) / 60_000,
  );
  return minutes < 60 ? `${minutes} min` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

function line(release: Release): string {
  const approvers = release.approvals.map((a) => `<@${a.user}> (${a.role})`).join(', ') || 'nobody';
  const outcome = release.state.replace('_', ' ');
  const why = release.rollback
    ? ` · ${userText(release.rollback.reason)}`
    : release.failure
      ? ` · ${release.failure}`
      : '';
  // Rings: how far the release walked (the last ring it reached, of all of them).
  const rings = release.canary?.rings;
  const reached =
    rings && release.canary && release.canary.stepIndex >= 0
      ? ` · ring ${rings[Math.min(release.canary.stepIndex, rings.length - 1)]?.name} of ${rings.map((r) => r.name).join(' → ')}`
      : '';
  return `${release.createdAt.slice(0, 16).replace('T', ' ')} · ${release.fromVersion} → ${release.version} (${release.type}) · *${outcome}*${reached} · ${duration(release)} · by <@${release.requester}> · approved by ${approvers}${why}`;
}

/** `/release history <service> [n]`: recent releases with outcome, duration and approvers. */
export async function releaseHistory(
  deps: Uses<'config' | 'store'>,
  request: { service: string; limit: number },
): Promise<Answer> {
  const releases = await deps.store.listReleases(request.service, request.limit);
  // Ended releases expire after the retention: fewer than asked may mean older ones are gone.
  const kept = `ended releases are kept ${deps.config.releases.retentionDays} days`;
  if (releases.length === 0) {
    return {
      message: `${request.service} has no releases on record (${kept}).`,
      hint: `Start with /bump ${request.service}.`,
    };
  }
  return {
    message: `Last ${releases.length} release${releases.length === 1 ? '' : 's'} of ${request.service}`,
    details: [releases.map(line).join('\n')],
    ...(releases.length < request.limit ? { hint: `No older releases on record (${kept}).` } : {}),
  };
}

/** `/release unmark <service> <version>`: a rolled-back version may be released again. */
export async function unmarkFaulty(
  deps: Uses<'audit' | 'clock' | 'faulty' | 'log'>,
  request: { service: string; version: string; by: string },
): Promise<Answer> {
  const removed = await deps.faulty.unmark(request.service, request.version);
  if (removed === null) {
    throw new ReleaseError(
      'not_available',
      `${request.service} ${request.version} is not marked faulty.`,
      `See /release history ${request.service}.`,
    );
  }
  await audit(deps, {
    who: request.by,
    what: `unmarked faulty version ${request.version}`,
    service: request.service,
    releaseId: removed.releaseId,
    before: removed,
  });
  return {
    message: `${request.service} ${request.version} is no longer marked faulty (marked by <@${removed.by}>: ${userText(removed.reason)}).`,
    hint: 'It can be released again; the change is in the audit trail.',
  };
}

/** The refusal for a version someone rolled back, naming who and why. */
export async function refuseFaulty(
  deps: Uses<'faulty'>,
  service: string,
  version: string,
  what: string,
): Promise<void> {
  const mark = await deps.faulty.get(service, version);
  if (mark === null) return;
  throw new ReleaseError(
    'not_allowed',
    `${service} ${version} is marked faulty: ${mark.by === 'greenlight' ? 'an automatic rollback' : `<@${mark.by}>`} rolled it back at ${mark.at.slice(0, 16).replace('T', ' ')} UTC (${userText(mark.reason)}), so ${what}.`,
    `If it is fixed, /release unmark ${service} ${version}; otherwise /bump ${service} to a new version.`,
  );
}
