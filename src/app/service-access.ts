import { ACTIVE_STATES, type Release } from '../domain/release.ts';
import { bootstrapState, type Operation, type ServiceState } from '../domain/service-state.ts';
import { SLOTS, type Slot } from '../domain/slots.ts';
import { audit, type ServicePorts, serviceConfig, type Uses } from './app-deps.ts';
import { ReleaseError } from './release-error.ts';

/**
 * Releases read back, newest first, to find the active one: releases requested after it that
 * never went live (rejected, cancelled, expired) can stand in front of it, since a /rollback of
 * the live release may come after them. Past this many, the newest release is read as if none
 * were active.
 */
const ADOPTION_LOOKBACK = 20;

/**
 * Redis has no record of a service: a first start, or data lost (a restart without persistence,
 * an eviction). Greenlight adopts what the proxy serves, with versions read from the slots, and
 * never moves traffic for it: the slot taking (most) traffic is PRODUCTION. The newest release
 * on record is linked again when it agrees with the proxy, so /rollback still has its target.
 * Falls back to greenlight.yml's `bootstrap` only when the proxy cannot be read, unpersisted.
 */
async function adoptService(deps: Uses<ServicePorts>, service: string): Promise<ServiceState> {
  const config = serviceConfig(deps, service);
  const now = deps.clock.now();
  const bootstrap = bootstrapState(
    service,
    config.bootstrap.production,
    config.bootstrap.version,
    now,
  );
  let weights: Readonly<Record<Slot, number>>;
  try {
    weights = (await deps.traffic.inspect(service)).weights;
  } catch (error) {
    deps.log.warn({ service, err: error }, 'no record of the service and the proxy cannot be read');
    return bootstrap;
  }
  if (weights.blue === 0 && weights.green === 0) return bootstrap;
  const started = await deps.traffic.startedAt?.(service).catch(() => undefined);
  // The active release if there is one: a rollback of the live release can be older than a
  // newer one that never went live (cancelled or rejected).
  const recent = await deps.store.listReleases(service, ADOPTION_LOOKBACK);
  const newest = recent.find((r) => ACTIVE_STATES.includes(r.state)) ?? recent[0];
  const production: Slot =
    (newest && productionOnRecord(newest, weights)) ??
    (weights.green > weights.blue ? 'green' : 'blue');
  const at = now.toISOString();
  const versions = await Promise.all(
    SLOTS.map(async (slot) => {
      const reported = await deps.probe.version(service, slot).catch(() => undefined);
      if (reported?.ok) return reported.version;
      return slot === config.bootstrap.production ? config.bootstrap.version : null;
    }),
  );
  const health = await Promise.all(
    SLOTS.map(async (slot) =>
      (await deps.probe.health(service, slot).catch(() => ({ ok: false }))).ok
        ? ('healthy' as const)
        : ('unknown' as const),
    ),
  );
  const linked = newest !== undefined && agreesWithProxy(newest, production) ? newest : undefined;
  const adopted: ServiceState = {
    service,
    production,
    slots: {
      blue: { version: versions[0] ?? null, health: health[0] ?? 'unknown', updatedAt: at },
      green: { version: versions[1] ?? null, health: health[1] ?? 'unknown', updatedAt: at },
    },
    operation:
      linked && ACTIVE_STATES.includes(linked.state)
        ? {
            id: linked.id,
            kind: linked.state === 'rolling_back' ? 'rollback' : 'release',
            by: linked.requester,
            startedAt: linked.createdAt,
            version: linked.version,
            releaseId: linked.id,
          }
        : null,
    lastReleaseId: linked?.id ?? null,
    traffic: {
      weights,
      at,
      ...(started ? { proxyStartedAt: started.getTime() } : {}),
    },
    revision: 1,
    createdAt: at,
  };
  if (!(await deps.store.commit({ service: { next: adopted, expected: 0 } }))) {
    const stored = await deps.store.getService(service);
    if (stored !== null) return stored;
  }
  const fresh =
    (await deps.store.listReleases(service, 1)).length === 0 &&
    production === config.bootstrap.production;
  if (!fresh) {
    const detail = `Greenlight had no record of ${service} in Redis, so it adopted what the proxy serves: PRODUCTION ${production} (${adopted.slots[production].version ?? 'version unknown'}), STANDBY ${production === 'blue' ? 'green' : 'blue'} (${adopted.slots[production === 'blue' ? 'green' : 'blue'].version ?? 'version unknown'})${linked ? `, last release ${linked.version} (${linked.state})` : ''}. Traffic was not touched.`;
    await deps.notifier.adopted(service, config.channel, detail);
  }
  await audit(deps, {
    who: 'greenlight',
    what: 'service adopted from the proxy',
    service,
    after: { production, weights, versions: adopted.slots, lastReleaseId: adopted.lastReleaseId },
  });
  return adopted;
}

/** States in which a release has not yet made its slot PRODUCTION. */
const BEFORE_THE_SWITCH: readonly Release['state'][] = [
  'awaiting_approval',
  'running_steps',
  'switching',
  'ramping',
];

/**
 * PRODUCTION as the newest release says, whatever the proxy's shares: mid-release the slot it
 * came from (a 50 % canary step must not make the canary PRODUCTION), and during a rollback the
 * slot that was PRODUCTION when it began (a reload's even split must not make the slot being
 * brought back PRODUCTION). Otherwise the slot taking most traffic is.
 */
function productionOnRecord(release: Release, weights: Record<Slot, number>): Slot | undefined {
  if (BEFORE_THE_SWITCH.includes(release.state) && weights[release.fromSlot] > 0)
    return release.fromSlot;
  // The switch sets releasedAt as it makes the release's slot PRODUCTION.
  if (release.state === 'rolling_back')
    return release.releasedAt === undefined ? release.fromSlot : release.toSlot;
  return undefined;
}

/** A release agrees with the proxy when the slot it would leave live is the one serving. */
function agreesWithProxy(release: Release, production: Slot): boolean {
  switch (release.state) {
    case 'released':
    case 'observing':
      return release.toSlot === production;
    case 'awaiting_approval':
    case 'running_steps':
    case 'ramping':
    case 'switching':
    case 'rolling_back':
      return true;
    default:
      return release.fromSlot === production;
  }
}

/** The service as Redis knows it; adopted from the proxy when Redis has no record of it. */
export async function currentState(
  deps: Uses<ServicePorts>,
  service: string,
): Promise<ServiceState> {
  const stored = await deps.store.getService(service);
  if (stored !== null) return stored;
  return adoptService(deps, service);
}

function describeOperation(op: Operation): string {
  switch (op.kind) {
    case 'bump':
      return `a /bump to ${op.version}`;
    case 'sync':
      return `a /sync to ${op.version}`;
    case 'release':
      return `a release of ${op.version}`;
    case 'rollback':
      return `a rollback of ${op.version}`;
  }
}

/** The refusal for a command against a busy service: what runs, who started it, since when. */
export function busyError(service: string, op: Operation): ReleaseError {
  return new ReleaseError(
    'release_in_progress',
    `${service} is busy: ${describeOperation(op)} started by <@${op.by}> at ${op.startedAt.slice(11, 16)} UTC is still running.`,
    `Wait for it to finish (see /release status ${service})${op.kind === 'release' ? `, or stop it with /rollback ${service}` : ''}.`,
  );
}

/** What `updateService` did: wrote, found nothing to change, found no record, or kept losing races. */
export type ServiceUpdate = 'written' | 'unchanged' | 'missing' | 'conflict';

/**
 * Changes a service with compare-and-set, retried from fresh state on a lost race. `change`
 * returns the new state (revision is bumped here), or null when nothing needs writing. A
 * missing record is adopted from the proxy first, unless `adopt` is false.
 */
export async function updateService(
  deps: Uses<ServicePorts>,
  service: string,
  change: (state: ServiceState) => ServiceState | null,
  options: { attempts?: number; adopt?: boolean } = {},
): Promise<ServiceUpdate> {
  for (let attempt = 0; attempt < (options.attempts ?? 10); attempt += 1) {
    // `adopt: false`: a record that vanished stays vanished here (the reconciler adopts it).
    const state =
      options.adopt === false
        ? await deps.store.getService(service)
        : await currentState(deps, service);
    if (state === null) return 'missing';
    const next = change(state);
    if (next === null) return 'unchanged';
    const write = { next: { ...next, revision: state.revision + 1 }, expected: state.revision };
    if (await deps.store.commit({ service: write })) return 'written';
  }
  return 'conflict';
}

/** Writes a new service state; on a lost race, re-reads and reports what won. */
export async function commitService(
  deps: Uses<ServicePorts>,
  before: ServiceState,
  next: ServiceState,
): Promise<void> {
  if (await deps.store.commit({ service: { next, expected: before.revision } })) return;
  const now = await currentState(deps, before.service);
  if (now.operation !== null) throw busyError(before.service, now.operation);
  throw new ReleaseError(
    'release_in_progress',
    `${before.service} changed while Greenlight was answering.`,
    'Nothing was done; run the command again.',
  );
}
