import { postTracking } from '../domain/checklist.ts';
import { releaseTypeRule } from '../domain/release-policy.ts';
import { type AppDeps, serviceConfig } from './app-deps.ts';
import { runEvent } from './release-runner.ts';

/** How many of a service's latest releases may still have post-release items tracked. */
const RECENT = 10;

/**
 * Post-release items are tracked until all are ticked or the release's rollback window ends:
 * at the first sweep past the window, tracking ends with one line naming what was never ticked.
 * Level-triggered like the rest of the sweep, so a restart or a lost pass only delays it.
 */
export async function closeChecklists(deps: AppDeps, service: string): Promise<string[]> {
  const done: string[] = [];
  const config = serviceConfig(deps, service);
  const now = deps.clock.now().getTime();
  for (const release of await deps.store.listReleases(service, RECENT)) {
    if (!postTracking(release) || release.releasedAt === undefined) continue;
    const windowMs =
      releaseTypeRule(release.type, config.releaseTypes).rollbackWindowMinutes * 60_000;
    if (now < Date.parse(release.releasedAt) + windowMs) continue;
    await runEvent(deps, release.id, { type: 'close_checklist' });
    done.push(`closed the post-release checklist of ${release.id}`);
  }
  return done;
}
