import { requestRelease } from '../src/app/use-cases/start-release.ts';
import type { Release } from '../src/domain/release.ts';
import type { ServiceState } from '../src/domain/service-state.ts';
import { type MemoryWorld, memoryWorld } from './memory-deps.ts';
import { serviceRecord } from './release-fixtures.ts';

/** api with no operation running and no release before: ready for a /release. */
export const IDLE: Partial<ServiceState> = { operation: null, lastReleaseId: null };

/**
 * A memory world on `yaml` (see `apiConfig`) whose one service, api, is stored as at `now`:
 * `serviceRecord` with `service`'s changes. Releases are the test's to add.
 */
export function apiWorld(
  yaml: string,
  now: Date,
  service: Partial<ServiceState> = {},
): MemoryWorld {
  const world = memoryWorld(yaml, now);
  world.services.set('api', serviceRecord(now.toISOString(), service));
  return world;
}

/** An idle api for which U0DEV1 has just asked a release, through the use case itself. */
export async function requestedRelease(
  yaml: string,
  now: Date,
): Promise<{ world: MemoryWorld; id: string }> {
  const world = apiWorld(yaml, now, IDLE);
  await requestRelease(world.deps, { service: 'api', by: 'U0DEV1' });
  const release = [...world.releases.values()][0] as Release;
  return { world, id: release.id };
}
