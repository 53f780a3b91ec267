import { itemList, openItems, postTracking } from '../domain/checklist.ts';
import type { Release } from '../domain/release.ts';
import { releaseTypeRule } from '../domain/release-policy.ts';
import { type EventPorts, serviceConfig, type Uses } from './app-deps.ts';
import { runEvent } from './release-runner.ts';

/** How many of a service's latest releases may still have post-release items tracked. */
const RECENT = 10;

/**
 * Post-release items are tracked until all are ticked, the release's rollback window ends or a
 * newer release goes live: a reminder half-way (once), and at the first sweep past the end
 * tracking ends with one line naming what was never ticked.
 * Level-triggered like the rest of the sweep, so a restart or a lost pass only delays it.
 */
export async function closeChecklists(
  deps: Uses<EventPorts | 'comms'>,
  service: string,
): Promise<string[]> {
  const done: string[] = [];
  const config = serviceConfig(deps, service);
  const now = deps.clock.now().getTime();
  // Newest first: once a newer release is live, an older one's window is over in all but name
  // (a rollback goes to the newer one's predecessor), so its items stop being tracked.
  let newer: Release | undefined;
  for (const release of await deps.store.listReleases(service, RECENT)) {
    const superseding = newer;
    if (release.state === 'observing' || release.state === 'released') newer ??= release;
    if (!postTracking(release) || release.releasedAt === undefined) continue;
    if (superseding !== undefined) {
      await runEvent(deps, release.id, {
        type: 'close_checklist',
        supersededBy: superseding.version,
      });
      done.push(`closed the post-release checklist of ${release.id}`);
      continue;
    }
    const windowMs =
      releaseTypeRule(release.type, config.releaseTypes).rollbackWindowMinutes * 60_000;
    const endsAt = Date.parse(release.releasedAt) + windowMs;
    if (now < endsAt) {
      // Half-way through the window, one reminder of what is still open. Sent, then recorded: a
      // crash between the two sends it again under the same key, which Slack shows once.
      if (now >= endsAt - windowMs / 2 && release.checklist?.remindedAt === undefined) {
        await deps.notifier.releaseNote(
          release,
          'post-checklist-reminder',
          `⏰ After release, still open: ${itemList(openItems(release, 'post'))}. Tracking ends with the rollback window at ${endsAtText(now, endsAt)} UTC.`,
        );
        await runEvent(deps, release.id, { type: 'checklist_reminded' });
      }
      continue;
    }
    await runEvent(deps, release.id, { type: 'close_checklist' });
    done.push(`closed the post-release checklist of ${release.id}`);
  }
  return done;
}

/** `14:00`, or `2026-11-26 10:00` when the window ends on another day than the reminder. */
function endsAtText(now: number, endsAt: number): string {
  const end = new Date(endsAt).toISOString();
  return end.slice(0, 10) === new Date(now).toISOString().slice(0, 10)
    ? end.slice(11, 16)
    : `${end.slice(0, 10)} ${end.slice(11, 16)}`;
}
