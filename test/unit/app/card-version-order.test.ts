import { describe, expect, it } from 'vitest';
import type { AppDeps } from '../../../src/app/app-deps.ts';
import { runEvent } from '../../../src/app/release-runner.ts';
import type { Release } from '../../../src/domain/release.ts';
import type { ServiceState } from '../../../src/domain/service-state.ts';
import { apiConfig } from '../../../testkit/api-config.ts';
import { memoryWorld } from '../../../testkit/memory-deps.ts';
import { releaseRecord, serviceRecord } from '../../../testkit/release-fixtures.ts';

const AT = '2026-11-24T10:00:00.000Z';

/** `a` is at least `b` in every revision. */
const covers = (a: readonly number[], b: readonly number[]) => a.every((n, i) => n >= (b[i] ?? 0));

describe('card redraws from two writers (review)', () => {
  it('a release event and a deploy finishing at once: one redraw shows both writes, so the outbox ends on it', async () => {
    // Interleaving: a click on the released release reads the service (revision 5); a /sync's
    // deploy commits the service (6), reads the release (4) and queues the card [4, 6]; the click
    // commits the release (5) and queues the card [5, 5]. Neither is older than the other in
    // every revision, so the outbox shows whichever comes last: [4, 6] last puts the release
    // card back to revision 4 for good.
    const w = memoryWorld(apiConfig(), new Date(AT));
    w.releases.set('rel-1', releaseRecord(AT, { state: 'released', releasedAt: AT, revision: 4 }));
    w.services.set('api', serviceRecord(AT, { production: 'green', operation: null }));
    const drawn: number[][] = [];
    let deployFinishes = true;
    const deps: AppDeps = {
      ...w.deps,
      store: {
        ...w.deps.store,
        getService: async (name) => {
          const read = await w.deps.store.getService(name);
          if (deployFinishes && read !== null) {
            deployFinishes = false;
            // The deploy's tail, as in deploy-to-standby.ts: commit, then redraw the last release.
            const next: ServiceState = { ...read, revision: read.revision + 1 };
            await w.deps.store.commit({ service: { next, expected: read.revision } });
            const last = (await w.deps.store.getRelease('rel-1')) as Release;
            await deps.notifier.releaseChanged(last, next);
          }
          return read;
        },
      },
      notifier: new Proxy(w.deps.notifier, {
        get: (target, method: string) =>
          method === 'releaseChanged'
            ? async (release: Release, service: ServiceState) => {
                drawn.push([release.revision, service.revision]);
              }
            : Reflect.get(target, method),
      }),
    };
    await runEvent(deps, 'rel-1', {
      type: 'rollback_requested',
      user: 'U0DEV2',
      reason: 'errors',
    });
    expect(drawn).toHaveLength(2);
    expect(drawn.some((v) => drawn.every((o) => covers(v, o)))).toBe(true);
  });
});
