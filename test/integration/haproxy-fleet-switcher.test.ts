import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type HaproxyFleet,
  HaproxyFleetSwitcher,
} from '../../src/adapters/haproxy/haproxy-fleet-switcher.ts';
import { HaproxyRuntimeApi } from '../../src/adapters/haproxy/haproxy-runtime-api.ts';
import { HaproxyTrafficSwitcher } from '../../src/adapters/haproxy/haproxy-traffic-switcher.ts';
import { LockLostError, MoveUndoneError } from '../../src/app/ports.ts';
import { sameAudience } from '../../src/domain/rings.ts';
import {
  audienceMapPaths,
  type HaproxyFixture,
  startHaproxy,
} from '../../testkit/haproxy-fixture.ts';
import { trafficSplit } from '../../testkit/release-world.ts';
import { type SlotServer, startSlotServer } from '../../testkit/slot-server.ts';

// The fleet switcher on its own, against three real HAProxy processes: what each instance
// serves is read through its own frontend.
describe('HaproxyFleetSwitcher against three real HAProxy instances', () => {
  let blue: SlotServer;
  let green: SlotServer;
  let lbs: HaproxyFixture[];
  let fleet: HaproxyFleetSwitcher;

  let fleetOf: (service: string) => HaproxyFleet;

  const served = (lb: HaproxyFixture | undefined) =>
    trafficSplit(lb?.frontendUrl('api') ?? 'http://127.0.0.1:1', 10);

  beforeAll(async () => {
    blue = await startSlotServer('blue', { version: '1.0.0' });
    green = await startSlotServer('green', { version: '1.1.0' });
    lbs = [];
    for (let i = 0; i < 3; i += 1)
      lbs.push(await startHaproxy({ api: { blue: blue.port, green: green.port } }));
    const config: HaproxyFleet = {
      order: 'all' as const,
      regionSoakMs: 0,
      instances: lbs.map((lb, i) => ({
        name: `lb-${i + 1}`,
        region: i < 2 ? 'eu' : 'us',
        switcher: new HaproxyTrafficSwitcher(
          new Map([
            [
              'api',
              {
                api: new HaproxyRuntimeApi(lb.runtimeApi, 500),
                backend: 'api',
                servers: { blue: 'blue', green: 'green' },
              },
            ],
          ]),
          1500,
        ),
      })),
    };
    fleetOf = () => config;
    fleet = new HaproxyFleetSwitcher(new Map([['api', config]]), { retryDelayMs: 1500 });
  });

  afterAll(async () => {
    for (const lb of lbs ?? []) await lb.stop();
    await blue?.close();
    await green?.close();
  });

  it('retries an instance that fails once, and the switch completes on every instance', async () => {
    await lbs[2]?.halt();
    // The instance is back before the retry: the switch must not give up on the first failure.
    const back = new Promise((resolve) => setTimeout(resolve, 300)).then(() => lbs[2]?.reload());
    expect(await fleet.switchTo('api', 'green', { onPartialFailure: 'restore' })).toEqual({
      changed: true,
    });
    await back;
    for (const lb of lbs) expect(await served(lb)).toEqual({ green: 10 });
    const state = await fleet.inspect('api');
    expect(state.weights).toEqual({ blue: 0, green: 100 });
    expect(state.instances?.map((i) => [i.name, i.state?.weights])).toEqual([
      ['lb-1', { blue: 0, green: 100 }],
      ['lb-2', { blue: 0, green: 100 }],
      ['lb-3', { blue: 0, green: 100 }],
    ]);
  });

  it('a canary split that one instance cannot take is undone on the others', async () => {
    await lbs[1]?.halt();
    const undone = await fleet
      .split('api', 'blue', 20, { onPartialFailure: 'restore' })
      .catch((e: unknown) => e);
    expect(String(undone)).toMatch(
      /lb-2 \(eu\) failed: .*retried once\. Restored the others so the service is not split: lb-1 back to green only, lb-3 back to green only/,
    );
    // Users behind lb-1 and lb-3 went to the canary and back: the switch step must not retry it.
    expect(undone).toBeInstanceOf(MoveUndoneError);
    expect(await served(lbs[0])).toEqual({ green: 10 });
    expect(await served(lbs[2])).toEqual({ green: 10 });
    await lbs[1]?.reload();
  });

  it('a move back to known-good traffic keeps what it reached and names the instance it could not move', async () => {
    // lb-2 came back from its config file: blue only, like the others should be after this move.
    await lbs[0]?.halt();
    await expect(fleet.switchTo('api', 'blue')).rejects.toThrow(
      /lb-1 \(eu\) failed: .*The others were moved/,
    );
    expect(await served(lbs[1])).toEqual({ blue: 10 });
    expect(await served(lbs[2])).toEqual({ blue: 10 });
    const state = await fleet.inspect('api');
    expect(state.instances?.[0]?.error).toMatch(/unreachable/);
    expect(state.weights).toEqual({ blue: 100, green: 0 });
    await lbs[0]?.reload();
  });

  it('region by region, a move back to known-good traffic goes on to the next region when one instance of the first cannot be moved', async () => {
    const regional = new HaproxyFleetSwitcher(
      new Map([['api', { ...fleetOf('api'), order: 'region' as const, regionSoakMs: 0 }]]),
      { retryDelayMs: 200 },
    );
    await fleet.switchTo('api', 'green');
    for (const lb of lbs) expect(await served(lb)).toEqual({ green: 10 });
    await lbs[0]?.halt();
    try {
      const error = await regional.switchTo('api', 'blue').catch((e: unknown) => e);
      expect(await served(lbs[1])).toEqual({ blue: 10 });
      // The us region is one less load balancer sending users to the version being left.
      expect(await served(lbs[2])).toEqual({ blue: 10 });
      expect(String(error)).toMatch(/lb-1 \(eu\) failed: .*The others were moved/);
      expect(error).toMatchObject({ missed: ['lb-1 (eu)'] });
    } finally {
      await lbs[0]?.reload();
    }
  });

  it('region by region, a holder whose traffic lock lapsed during a region soak moves no further region', async () => {
    const regional = new HaproxyFleetSwitcher(
      new Map([['api', { ...fleetOf('api'), order: 'region' as const, regionSoakMs: 1500 }]]),
      { retryDelayMs: 200 },
    );
    await fleet.switchTo('api', 'blue');
    let lapsed = false;
    const lease = {
      assertHeld: () => {
        if (lapsed) throw new LockLostError('traffic-api', 'not renewed in time');
      },
    };
    // The lock lapses while eu soaks (another holder may be moving the fleet by now).
    const lapse = setTimeout(() => {
      lapsed = true;
    }, 500);
    try {
      await expect(
        regional.switchTo('api', 'green', { onPartialFailure: 'restore', lease }),
      ).rejects.toBeInstanceOf(LockLostError);
      expect(await served(lbs[0])).toEqual({ green: 10 });
      expect(await served(lbs[1])).toEqual({ green: 10 });
      // us was never touched.
      expect(await served(lbs[2])).toEqual({ blue: 10 });
    } finally {
      clearTimeout(lapse);
      await fleet.switchTo('api', 'blue');
    }
  });

  it('sums the counters of every instance for analysis', async () => {
    const before = Number((await fleet.stats('api', 'blue')).hrsp_2xx);
    for (const lb of lbs) await served(lb);
    const after = Number((await fleet.stats('api', 'blue')).hrsp_2xx);
    expect(after - before).toBe(30);
  });
});

describe('audience maps on a fleet', () => {
  let blue: SlotServer;
  let green: SlotServer;
  let lbs: HaproxyFixture[];
  let mapDir: string;
  let fleet: HaproxyFleetSwitcher;

  beforeAll(async () => {
    blue = await startSlotServer('blue', { version: '1.0.0' });
    green = await startSlotServer('green', { version: '1.1.0' });
    mapDir = await mkdtemp(join(tmpdir(), 'greenlight-fleet-maps-'));
    lbs = [];
    for (let i = 0; i < 2; i += 1)
      lbs.push(
        await startHaproxy(
          { api: { blue: blue.port, green: green.port } },
          { audienceMapDir: mapDir },
        ),
      );
    const maps = audienceMapPaths(mapDir, 'api');
    fleet = new HaproxyFleetSwitcher(
      new Map([
        [
          'api',
          {
            order: 'all' as const,
            regionSoakMs: 0,
            instances: lbs.map((lb, i) => ({
              name: `lb-${i + 1}`,
              region: 'eu',
              switcher: new HaproxyTrafficSwitcher(
                new Map([
                  [
                    'api',
                    {
                      api: new HaproxyRuntimeApi(lb.runtimeApi, 500),
                      backend: 'api',
                      servers: { blue: 'blue', green: 'green' },
                      maps,
                    },
                  ],
                ]),
              ),
            })),
          },
        ],
      ]),
      { retryDelayMs: 200 },
    );
  });

  afterAll(async () => {
    for (const lb of lbs ?? []) await lb.stop();
    await rm(mapDir, { recursive: true, force: true });
    await blue?.close();
    await green?.close();
  });

  const slotFor = async (lb: HaproxyFixture | undefined, ring?: string) => {
    const res = await fetch(lb?.frontendUrl('api') ?? '', {
      headers: ring ? { 'X-Greenlight-Ring': ring } : {},
    });
    return ((await res.json()) as { slot: string }).slot;
  };

  it('routes the audience on every instance, reads it back as one, and shows an instance that lost it', async () => {
    const entries = [{ kind: 'header' as const, key: 'internal', slot: 'green' as const }];
    await fleet.setAudience('api', entries);
    expect(await fleet.audience('api')).toEqual(entries);
    for (const lb of lbs) {
      expect(await slotFor(lb, 'internal')).toBe('green');
      expect(await slotFor(lb)).toBe('blue');
    }
    await lbs[1]?.reload();
    expect(await slotFor(lbs[1], 'internal')).toBe('blue');
    // One instance without the entry: the fleet does not read as having it.
    expect(sameAudience(await fleet.audience('api'), entries)).toBe(false);
    await fleet.setAudience('api', []);
    expect(await fleet.audience('api')).toEqual([]);
    expect(await slotFor(lbs[0], 'internal')).toBe('blue');
  });

  it('after one instance reloads, restores the audience on that instance only: the other keeps its very entry', async () => {
    const entries = [{ kind: 'header' as const, key: 'internal', slot: 'green' as const }];
    const path = audienceMapPaths(mapDir, 'api').header;
    // `show map` names each entry by its address in HAProxy's memory: a re-added entry moves.
    const held = (lb: HaproxyFixture | undefined) =>
      new HaproxyRuntimeApi(lb?.runtimeApi ?? '', 1000).send(`show map ${path}`);
    await fleet.setAudience('api', entries);
    const before = await held(lbs[0]);
    expect(before).toMatch(/^0x[0-9a-f]+ internal green/);
    await lbs[1]?.reload();
    expect(await held(lbs[1])).not.toContain('internal');
    await fleet.setAudience('api', entries);
    expect(await held(lbs[1])).toContain('internal green');
    expect(await held(lbs[0])).toBe(before);
    await fleet.setAudience('api', []);
  });

  it('names an instance that answers but was never given the map files, rather than reading past it', async () => {
    const bare = await startHaproxy({ api: { blue: blue.port, green: green.port } });
    try {
      const withBare = new HaproxyFleetSwitcher(
        new Map([
          [
            'api',
            {
              order: 'all' as const,
              regionSoakMs: 0,
              instances: [lbs[0], bare].map((lb, i) => ({
                name: `lb-${i + 1}`,
                region: 'eu',
                switcher: new HaproxyTrafficSwitcher(
                  new Map([
                    [
                      'api',
                      {
                        api: new HaproxyRuntimeApi(lb?.runtimeApi ?? '', 500),
                        backend: 'api',
                        servers: { blue: 'blue', green: 'green' },
                        maps: audienceMapPaths(mapDir, 'api'),
                      },
                    ],
                  ]),
                ),
              })),
            },
          ],
        ]),
      );
      await expect(withBare.audience('api')).rejects.toThrow(/lb-2: HAProxy cannot show the map/);
    } finally {
      await bare.stop();
    }
  });

  it('with one instance down, the audience still leaves the others (a rollback from a ring), and the one down is named', async () => {
    const entries = [{ kind: 'header' as const, key: 'internal', slot: 'green' as const }];
    await fleet.setAudience('api', entries);
    await lbs[1]?.halt();
    try {
      // Read from the instances that answer, as the weights are.
      expect(await fleet.audience('api')).toEqual(entries);
      const cleared = fleet.setAudience('api', []);
      await expect(cleared).rejects.toThrow(/audience not set on lb-2 \(eu\)/);
      await expect(cleared).rejects.toMatchObject({ missed: ['lb-2 (eu)'] });
      expect(await slotFor(lbs[0], 'internal')).toBe('blue');
      expect(await fleet.audience('api')).toEqual([]);
    } finally {
      await lbs[1]?.reload();
    }
  });
});
