import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HaproxyRuntimeApi } from '../../src/adapters/haproxy/haproxy-runtime-api.ts';
import { HaproxyTrafficSwitcher } from '../../src/adapters/haproxy/haproxy-traffic-switcher.ts';
import { type HaproxyFixture, startHaproxy } from '../../testkit/haproxy-fixture.ts';
import { freePort } from '../../testkit/ports.ts';
import { trafficSplit } from '../../testkit/release-world.ts';
import { type SlotServer, startSlotServer } from '../../testkit/slot-server.ts';

describe('HaproxyTrafficSwitcher against a real HAProxy', () => {
  let blue: SlotServer;
  let green: SlotServer;
  let haproxy: HaproxyFixture;
  let switcher: HaproxyTrafficSwitcher;

  beforeAll(async () => {
    blue = await startSlotServer('blue', { version: '1.0.0' });
    green = await startSlotServer('green', { version: '1.1.0' });
    haproxy = await startHaproxy({ api: { blue: blue.port, green: green.port } });
    const services = new Map([
      [
        'api',
        {
          api: new HaproxyRuntimeApi(haproxy.socketPath, 1000),
          backend: 'api',
          servers: { blue: 'blue', green: 'green' },
        },
      ],
    ]);
    switcher = new HaproxyTrafficSwitcher(services, 1500);
  });

  afterAll(async () => {
    await haproxy?.stop();
    await blue?.close();
    await green?.close();
  });

  it('reads which slot takes traffic, over the unix socket', async () => {
    expect(await switcher.inspect('api')).toEqual({
      serving: ['blue'],
      weights: { blue: 100, green: 0 },
      up: ['blue', 'green'],
    });
  });

  it('switches, keeps the old slot draining (warm, still checked), and does nothing the second time', async () => {
    expect(await switcher.switchTo('api', 'green')).toEqual({ changed: true });
    expect(await trafficSplit(haproxy.frontendUrl('api'))).toEqual({ green: 10 });
    const states = await haproxy.serverStates('api');
    expect(states.blue?.admin).toBe(8); // drain, not maintenance
    expect(states.blue?.operational).toBe(2); // still health-checked and up
    expect(await switcher.switchTo('api', 'green')).toEqual({ changed: false });
  });

  it('refuses to drain production towards a slot HAProxy sees as down, and undoes its change', async () => {
    blue.set({ healthy: false });
    await new Promise((r) => setTimeout(r, 1000));
    await expect(switcher.switchTo('api', 'blue')).rejects.toThrow(
      'HAProxy does not see blue (api/blue) as up',
    );
    expect(await trafficSplit(haproxy.frontendUrl('api'))).toEqual({ green: 10 });
    expect((await switcher.inspect('api')).serving).toEqual(['green']);
    blue.set({ healthy: true });
  });

  it('names the problem when the Runtime API is unreachable or the server unknown', async () => {
    const dead = new HaproxyTrafficSwitcher(
      new Map([
        [
          'api',
          {
            api: new HaproxyRuntimeApi(`127.0.0.1:${await freePort()}`, 500),
            backend: 'api',
            servers: { blue: 'blue', green: 'green' },
          },
        ],
      ]),
    );
    await expect(dead.inspect('api')).rejects.toThrow(
      /HAProxy Runtime API at 127\.0\.0\.1:\d+ is unreachable \(ECONNREFUSED\)/,
    );
    const wrong = new HaproxyTrafficSwitcher(
      new Map([
        [
          'api',
          {
            api: new HaproxyRuntimeApi(haproxy.runtimeApi, 500),
            backend: 'api',
            servers: { blue: 'blue', green: 'teal' },
          },
        ],
      ]),
    );
    await expect(wrong.inspect('api')).rejects.toThrow(
      'HAProxy backend api has no server "teal" (the green slot)',
    );
  });

  it('tells two HAProxy processes apart when both started within one second (a double reload)', async () => {
    // HAProxy's own start time has whole seconds: reload until one lands in the same second as
    // the process before it (each reload takes a fraction of one).
    const startSecond = async () =>
      Number((await haproxy.command('show info')).match(/^Start_time_sec:\s*(\d+)/m)?.[1]);
    let sameSecond = false;
    let before = await switcher.startedAt('api');
    let second = await startSecond();
    for (let i = 0; i < 10 && !sameSecond; i += 1) {
      await haproxy.reload();
      const after = await switcher.startedAt('api');
      const next = await startSecond();
      if (next === second) {
        sameSecond = true;
        expect(after.getTime()).not.toBe(before.getTime());
      }
      before = after;
      second = next;
    }
    expect(sameSecond, 'no two reloads landed in one second in ten tries').toBe(true);
  });
});
