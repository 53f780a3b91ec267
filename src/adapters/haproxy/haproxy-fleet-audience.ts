import { PartialMoveError } from '../../app/traffic-ports.ts';
import type { AudienceEntry } from '../../domain/rings.ts';
import { HaproxyError, HaproxyUnreachableError } from './haproxy-runtime-api.ts';
import type { HaproxyTrafficSwitcher } from './haproxy-traffic-switcher.ts';

type Instance = {
  readonly name: string;
  readonly region: string;
  readonly switcher: HaproxyTrafficSwitcher;
};

/**
 * Entries every answering instance holds; one held by some of them only is marked `partial`.
 * An instance that does not answer is left out, as in the fleet's weights: it must not keep a
 * rollback from clearing the audience on the others. One that answers without the maps throws.
 */
export async function fleetAudience(
  service: string,
  instances: readonly Instance[],
): Promise<AudienceEntry[]> {
  const read = await Promise.allSettled(instances.map((i) => i.switcher.audience(service)));
  // One that answers but cannot show its maps (its configuration lacks them) is an error.
  const broken = read.findIndex(
    (r) => r.status === 'rejected' && !(r.reason instanceof HaproxyUnreachableError),
  );
  const failure = read[broken];
  if (failure?.status === 'rejected')
    throw new HaproxyError(`${instances[broken]?.name}: ${(failure.reason as Error).message}`);
  const all = read.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  if (all.length === 0)
    throw new HaproxyError(
      `no HAProxy instance of ${service} shows its audience maps (${read.map((r, i) => `${instances[i]?.name}: ${r.status === 'rejected' ? (r.reason as Error).message : ''}`).join('; ')})`,
    );
  const seen = new Map<string, { entry: AudienceEntry; count: number }>();
  for (const entries of all)
    for (const entry of entries) {
      const key = `${entry.kind} ${entry.key} ${entry.slot}`;
      seen.set(key, { entry, count: (seen.get(key)?.count ?? 0) + 1 });
    }
  return [...seen.values()].map(({ entry, count }) =>
    count === all.length ? entry : { ...entry, partial: true },
  );
}

/**
 * Sets the entries on every instance. Some failing: a PartialMoveError naming them (the others
 * were set), so a rollback goes on to the weights; all failing: nothing was set.
 */
export async function setFleetAudience(
  service: string,
  instances: readonly Instance[],
  entries: readonly AudienceEntry[],
): Promise<void> {
  const failed: { name: string; why: string }[] = [];
  await Promise.all(
    instances.map((i) =>
      i.switcher
        .setAudience(service, entries)
        .catch((error: Error) =>
          failed.push({ name: `${i.name} (${i.region})`, why: error.message }),
        ),
    ),
  );
  if (failed.length === 0) return;
  const message = `HAProxy audience not set on ${failed.map((f) => `${f.name}: ${f.why}`).join('; ')}`;
  if (failed.length === instances.length) throw new HaproxyError(message);
  throw new PartialMoveError(
    `${message}; set on the others.`,
    failed.map((f) => f.name),
  );
}
