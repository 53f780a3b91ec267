import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HaproxyFixture, startHaproxy } from '../../testkit/haproxy-fixture.ts';
import { trafficSplit } from '../../testkit/release-world.ts';
import { type SlotServer, startSlotServer } from '../../testkit/slot-server.ts';

async function until(check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('the HAProxy fixture: real HAProxy in front of two slot servers', () => {
  let blue: SlotServer;
  let green: SlotServer;
  let haproxy: HaproxyFixture;

  beforeAll(async () => {
    blue = await startSlotServer('blue', { version: '2.4.0' });
    green = await startSlotServer('green', { version: '2.4.1' });
    haproxy = await startHaproxy({ api: { blue: blue.port, green: green.port } });
  });

  afterAll(async () => {
    await haproxy?.stop();
    await blue?.close();
    await green?.close();
  });

  it('sends all traffic to production (blue) at first', async () => {
    expect(await trafficSplit(haproxy.frontendUrl('api'), 20)).toEqual({ blue: 20 });
  });

  it('answers Runtime API commands on TCP and on the unix socket', async () => {
    expect(await haproxy.command('show info')).toContain('Name: HAProxy');
    const states = await haproxy.serverStates('api');
    expect(states.blue?.weight).toBe(100);
    expect(states.green?.weight).toBe(0);
  });

  it('moves traffic when weights change through the Runtime API', async () => {
    expect((await haproxy.command('set weight api/green 100; set weight api/blue 0')).trim()).toBe(
      '',
    );
    expect(await trafficSplit(haproxy.frontendUrl('api'), 20)).toEqual({ green: 20 });
    await haproxy.command('set weight api/blue 100; set weight api/green 0');
    expect(await trafficSplit(haproxy.frontendUrl('api'), 10)).toEqual({ blue: 10 });
  });

  it('reports a slot down when its health endpoint fails, and up again when it recovers', async () => {
    green.set({ healthy: false });
    await until(async () => (await haproxy.serverStates('api')).green?.operational === 0);
    green.set({ healthy: true });
    await until(async () => (await haproxy.serverStates('api')).green?.operational === 2);
  });

  it('lets a test inject an exact error rate that shows through the frontend', async () => {
    blue.set({ errorRate: 0.25 });
    const seen = await trafficSplit(haproxy.frontendUrl('api'), 40);
    blue.set({ errorRate: 0 });
    expect(seen).toEqual({ blue: 30, 'http 500': 10 });
  });

  it('changes a slot version through its control endpoint, as a deploy script would', async () => {
    await fetch(`${green.url}/__control`, {
      method: 'POST',
      body: JSON.stringify({ version: '2.5.0' }),
    });
    const res = await fetch(`${green.url}/version`);
    expect(await res.json()).toEqual({ version: '2.5.0' });
  });
});
