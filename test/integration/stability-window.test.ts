import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bumpAndRequestRelease,
  eventually,
  type ReleaseWorld,
  startReleaseWorld,
  trafficSplit,
} from '../../testkit/release-world.ts';
import { restoredAlert } from '../support/world-inspection.ts';

describe('blue/green stability window', () => {
  let world: ReleaseWorld;
  let id = '';

  beforeAll(async () => {
    world = await startReleaseWorld({
      stabilityWindowMinutes: 10,
      serviceExtra: '    analysis: { source: haproxy, minRequests: 0, intervalSeconds: 0.5 }\n',
    });
  });
  afterAll(async () => world?.close());

  it('observes after the switch, keeping old production warm, and /sync waits for the window', async () => {
    const requested = await bumpAndRequestRelease(world, '2.4.1');
    id = requested.id;
    const parent = { ts: requested.parentTs };
    await world.click('U0LEAD', 'release_approve', id);
    const observing = await eventually(
      () => world.slack.messages('C0RELEASES').find((m) => m.ts === parent?.ts),
      (m) => m?.text.includes('Observing') === true,
    );
    expect(JSON.stringify(observing?.blocks)).toContain('Observing 0/10 min');
    expect(JSON.stringify(observing?.blocks)).toContain('release_rollback');
    expect(await trafficSplit(world.haproxy.frontendUrl('api'))).toEqual({ green: 10 });
    const states = await world.haproxy.serverStates('api');
    expect(states.blue?.operational).toBe(2); // old production still running, drained, checked

    const sync = await world.command('U0DEV1', '/sync', 'api');
    expect(sync).toMatch(
      /STANDBY \(blue\) is the instant-rollback target until \d\d:\d\d UTC, when the stability window of api 2\.4\.1 ends/,
    );
    expect(await world.command('U0DEV1', '/bump', 'api')).toContain('api is busy');
  });

  it('rolls back at once from the stability window', async () => {
    expect(await world.command('U0LEAD', '/rollback', 'api latency')).toContain(
      'Rolling api back to 2.4.0 on blue',
    );
    await eventually(
      () => trafficSplit(world.haproxy.frontendUrl('api')),
      (split) => split.blue === 10,
    );
    await restoredAlert(world, '', 20_000);
  });
});
