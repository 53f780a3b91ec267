import { buildReleaseNotes, type ReleaseNotes, webLinks } from '../../domain/release-notes.ts';
import { serviceConfig, type Uses } from '../app-deps.ts';

/**
 * The notes of a release about to be requested, read once so the card renders them without I/O.
 * Undefined when the service has no `changes.git`; a missing tag, an unreachable repository or
 * any other failure is notes that say why, never a failed release.
 */
export async function readReleaseNotes(
  deps: Uses<'changes' | 'config' | 'log'>,
  service: string,
  fromVersion: string,
  toVersion: string,
): Promise<ReleaseNotes | undefined> {
  const git = serviceConfig(deps, service).changes?.git;
  if (git === undefined || deps.changes === undefined) return undefined;
  try {
    const log = await deps.changes.between(service, fromVersion, toVersion);
    if (!log.ok) return { ok: false, reason: log.reason };
    return buildReleaseNotes(log.commits, {
      fromTag: log.fromTag,
      toTag: log.toTag,
      ...(git.webUrl ? { web: webLinks(git.webUrl, git.forge) } : {}),
    });
  } catch (error) {
    deps.log.warn({ err: error, service }, 'could not read release notes');
    return { ok: false, reason: `could not read the commits: ${(error as Error).message}` };
  }
}
