import type { AppDeps } from '../src/app/app-deps.ts';
import type { Release } from '../src/domain/release.ts';
import type { Slot } from '../src/domain/slots.ts';
import { apiConfig } from './api-config.ts';
import { apiWorld } from './api-world.ts';
import type { MemoryWorld } from './memory-deps.ts';
import { releaseRecord } from './release-fixtures.ts';

export const ROLLBACK_AT = '2026-11-24T10:00:00.000Z';

/**
 * api 2.4.1 went live on green (from 2.4.0 on blue) and is being rolled back (attempt 3), but
 * blue no longer runs 2.4.0: a /bump of 2.5.0, never approved, was preempted there. The slots
 * answer with what was last deployed onto them (`running`), as real slots do, not with what
 * Greenlight recorded; each deploy records the weights it started under (`deploysSaw`).
 */
export function rollbackWorld(options: { release?: Partial<Release>; production?: Slot } = {}) {
  const at = ROLLBACK_AT;
  const w = apiWorld(apiConfig(), new Date(at), {
    production: options.production ?? 'green',
    slots: {
      blue: { version: '2.5.0', health: 'failed', updatedAt: at },
      green: { version: '2.4.1', health: 'healthy', updatedAt: at },
    },
    operation: { id: 'rel-1', kind: 'rollback', by: 'U0LEAD', startedAt: at, releaseId: 'rel-1' },
  });
  w.releases.set(
    'rel-1',
    releaseRecord(at, {
      state: 'rolling_back',
      rollback: { by: 'U0LEAD', reason: 'errors', at, attempt: 3 },
      ...options.release,
    }),
  );
  const running: Record<Slot, string> = { blue: '2.5.0', green: '2.4.1' };
  const deploysSaw: Record<Slot, number>[] = [];
  const deps = w.deps as { -readonly [K in keyof typeof w.deps]: (typeof w.deps)[K] };
  deps.deployer = {
    deploy: async ({ slot, version }) => {
      deploysSaw.push({ ...w.weights });
      running[slot] = version;
      return { ok: true };
    },
  };
  deps.probe = {
    health: async () => ({ ok: true }),
    version: async (_service, slot) => ({ ok: true, version: running[slot] }),
  };
  Object.assign(deps, { readyTimeoutMs: 1000, sleep: async () => undefined });
  return Object.assign(w, { running, deploysSaw }) as RollbackWorld;
}

/** A memory world whose ports a test may replace. */
export type RollbackWorld = Omit<MemoryWorld, 'deps'> & {
  deps: { -readonly [K in keyof AppDeps]: AppDeps[K] };
  running: Record<Slot, string>;
  deploysSaw: Record<Slot, number>[];
};

/** Blue's record in Redis says it runs `version`, healthy. */
export function recordBlue(w: MemoryWorld, version: string): void {
  const service = w.services.get('api');
  if (service === undefined) throw new Error('no service');
  w.services.set('api', {
    ...service,
    slots: { ...service.slots, blue: { version, health: 'healthy', updatedAt: ROLLBACK_AT } },
  });
}

/** What an HAProxy reload does to the weights: both slots back in service, as its file has them. */
export function reload(w: MemoryWorld): void {
  w.weights.blue = 50;
  w.weights.green = 50;
}

/** A /rollback lands between a reconcile pass's decision and its move (its first proxy read). */
export function rollbackOnFirstInspect(w: MemoryWorld): void {
  const inspect = w.deps.traffic.inspect;
  let reads = 0;
  (w.deps as { traffic: typeof w.deps.traffic }).traffic = {
    ...w.deps.traffic,
    inspect: (name) => {
      reads += 1;
      const release = w.releases.get('rel-1');
      if (reads === 1 && release !== undefined)
        w.releases.set('rel-1', {
          ...release,
          state: 'rolling_back',
          revision: release.revision + 1,
        });
      return inspect(name);
    },
  };
}

/** When the HAProxy process Greenlight last set started (`proxyAsRecorded`). */
export const PROXY_STARTED = Date.parse('2026-11-24T09:00:00.000Z');

/**
 * Greenlight recorded setting green only on the HAProxy process that still runs: a hand edit
 * through its Runtime API, or a later move, keeps that process (a reload would not).
 */
export function proxyAsRecorded(w: RollbackWorld): void {
  const service = w.services.get('api');
  if (service === undefined) throw new Error('no service');
  w.services.set('api', {
    ...service,
    traffic: { weights: { blue: 0, green: 100 }, at: ROLLBACK_AT, proxyStartedAt: PROXY_STARTED },
  });
  w.deps.traffic = { ...w.deps.traffic, startedAt: async () => new Date(PROXY_STARTED) };
}
