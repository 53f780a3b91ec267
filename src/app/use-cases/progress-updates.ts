import { ACTIVE_STATES, type Release } from '../../domain/release.ts';
import type { ServicePorts, Uses } from '../app-deps.ts';
import { instanceLines } from '../fleet-traffic.ts';
import { currentState } from '../service-access.ts';

// Progress replies in a release's thread while it ramps or observes.

const reportsProgress = (r: Release | null): r is Release =>
  r !== null && ACTIVE_STATES.includes(r.state) && r.state !== 'rolling_back';

/** The progress job: one reply per interval while active; the schedule removes itself after. */
export async function runProgressStep(
  deps: Uses<ServicePorts | 'scheduler'>,
  job: { releaseId: string },
  sequence: number,
): Promise<void> {
  const release = await deps.store.getRelease(job.releaseId);
  if (!reportsProgress(release)) {
    await deps.scheduler.stopProgress(job.releaseId);
    return;
  }
  // A fleet of several load balancers: each one's weights, read now (none when unreadable).
  const traffic = await deps.traffic.inspect(release.service).catch(() => undefined);
  const fleet = (traffic?.instances?.length ?? 0) > 1 && traffic ? instanceLines(traffic) : [];
  // Reading the load balancers can take seconds: the release may have ended meanwhile, and a
  // progress reply after its end (or a card drawn from the older record) would be stale.
  const now = await deps.store.getRelease(job.releaseId);
  if (!reportsProgress(now)) return;
  const state = await currentState(deps, now.service);
  await deps.notifier.progress(now, state, sequence, fleet);
  // The parent shows `Observing 12/30 min`: keep it current too.
  await deps.notifier.releaseChanged(now, state);
}
