import { describe, expect, it } from 'vitest';
import type { AppDeps } from '../../../src/app/app-deps.ts';
import type { InstanceTraffic } from '../../../src/app/ports.ts';
import { runProgressStep } from '../../../src/app/use-cases/progress-updates.ts';
import { apiConfig } from '../../../testkit/api-config.ts';
import { apiWorld } from '../../../testkit/api-world.ts';
import { releaseRecord } from '../../../testkit/release-fixtures.ts';

// The progress reply of a release behind a fleet lists what each load balancer really sends,
// read at that tick; a single proxy (or a fleet of one) gets no such lines.
const AT = '2026-11-24T10:00:00.000Z';
const CONFIG = apiConfig();

const on = (green: number) => ({
  serving: green === 100 ? (['green'] as const) : (['blue', 'green'] as const),
  weights: { blue: 100 - green, green },
  up: ['blue', 'green'] as const,
});

async function progressWith(instances: InstanceTraffic[] | undefined): Promise<string[]> {
  const w = apiWorld(CONFIG, new Date(AT), { production: 'green' });
  w.releases.set('rel-1', releaseRecord(AT, { state: 'observing', releasedAt: AT }));
  const seen: string[][] = [];
  const deps: AppDeps = {
    ...w.deps,
    traffic: {
      ...w.deps.traffic,
      inspect: async () => ({ ...on(100), ...(instances ? { instances } : {}) }),
    },
    notifier: new Proxy(w.deps.notifier, {
      get: (target, method: string) =>
        method === 'progress'
          ? async (...args: unknown[]) => {
              seen.push([...((args[3] as string[] | undefined) ?? [])]);
            }
          : Reflect.get(target, method),
    }),
  };
  await runProgressStep(deps, { releaseId: 'rel-1' }, 1);
  return seen[0] ?? ['no progress posted'];
}

describe('progress updates of a release behind a fleet', () => {
  it('lists one line per load balancer with its weights, the unreachable one too', async () => {
    const lines = await progressWith([
      { name: 'lb-1', region: 'eu', state: on(100) },
      { name: 'lb-2', region: 'eu', state: on(20) },
      { name: 'lb-3', region: 'us', error: 'HAProxy Runtime API at 10.0.0.3:9999 is unreachable' },
    ]);
    expect(lines).toEqual([
      '· lb-1 (eu): green only; up: blue, green',
      '· lb-2 (eu): blue 80 %, green 20 %; up: blue, green',
      '· lb-3 (us): unreachable (HAProxy Runtime API at 10.0.0.3:9999 is unreachable)',
    ]);
  });

  it.each([
    ['a single proxy', undefined],
    ['a fleet of one', [{ name: 'lb-1', region: 'eu', state: on(100) }]],
  ])('lists none for %s', async (_name, instances) => {
    expect(await progressWith(instances)).toEqual([]);
  });
});

describe('a progress tick that overlaps the end of its release', () => {
  // Reading the load balancers can take seconds under load; the release's last analysis tick may
  // end it meanwhile. The tick must not post a progress reply after the end, nor redraw the card
  // from the record it read before the end.
  it('posts nothing when the release ended while the tick read the load balancers', async () => {
    const w = apiWorld(CONFIG, new Date(AT), { production: 'green' });
    const observing = releaseRecord(AT, { state: 'observing', releasedAt: AT, revision: 5 });
    w.releases.set('rel-1', observing);
    const deps: AppDeps = {
      ...w.deps,
      traffic: {
        ...w.deps.traffic,
        inspect: async () => {
          // The release ends while the load balancers are read.
          w.releases.set('rel-1', { ...observing, state: 'released', revision: 6 });
          return on(100);
        },
      },
    };
    await runProgressStep(deps, { releaseId: 'rel-1' }, 3);
    expect(w.posts).toEqual([]);
  });

  it('draws the card from the record as it is after the read, not as it was before', async () => {
    const w = apiWorld(CONFIG, new Date(AT), { production: 'green' });
    const observing = releaseRecord(AT, { state: 'observing', releasedAt: AT, revision: 5 });
    w.releases.set('rel-1', observing);
    const drawn: number[] = [];
    const deps: AppDeps = {
      ...w.deps,
      traffic: {
        ...w.deps.traffic,
        inspect: async () => {
          // Paused by an approver while the load balancers are read: still observing.
          w.releases.set('rel-1', {
            ...observing,
            paused: { by: 'U0LEAD', reason: 'checking the logs', at: AT, revision: 6 },
            revision: 6,
          });
          return on(100);
        },
      },
      notifier: new Proxy(w.deps.notifier, {
        get: (target, method: string) =>
          method === 'releaseChanged' || method === 'progress'
            ? async (release: { revision: number }) => {
                drawn.push(release.revision);
              }
            : Reflect.get(target, method),
      }),
    };
    await runProgressStep(deps, { releaseId: 'rel-1' }, 3);
    expect(drawn).toEqual([6, 6]);
  });
});
