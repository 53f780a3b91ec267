import { describe, expect, it } from 'vitest';
import type { AppDeps } from '../../../src/app/app-deps.ts';
import type { InstanceTraffic } from '../../../src/app/ports.ts';
import { runProgressStep } from '../../../src/app/use-cases/progressive.ts';
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
