import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HaproxyFixture } from '../../testkit/haproxy-fixture.ts';
import {
  bumpAndRequestRelease,
  eventually,
  type ReleaseWorld,
  startReleaseWorld,
} from '../../testkit/release-world.ts';

// Rings through a real HAProxy: the audience is routed by the backend's use-server rules on map
// files that Greenlight fills at runtime. Which version answered is what the slot server itself
// says, through HAProxy's frontend, with and without the internal header.

const RINGS = `    rings:
      internal: { match: { header: X-Greenlight-Ring, values: [internal, beta] }, soakMinutes: 60 }
      early: { percent: 20, soakMinutes: 1440 }
      all: { percent: 100, soakMinutes: 0 }
`;

async function answers(
  url: string,
  headers: Record<string, string> = {},
  count = 20,
): Promise<Record<string, number>> {
  const seen: Record<string, number> = {};
  for (let i = 0; i < count; i += 1) {
    const res = await fetch(url, { headers });
    const key =
      res.status === 200 ? ((await res.json()) as { slot: string }).slot : `http ${res.status}`;
    seen[key] = (seen[key] ?? 0) + 1;
  }
  return seen;
}

// The describes below each have their own world and share nothing: the first two run side by
// side (`concurrent` on each), the last after them. The tests within one build on each other's
// release and run in order (`IN_ORDER`).
const IN_ORDER = { concurrent: false } as const;

describe('rings: internal users first, then a share of everyone, then all', {
  concurrent: true,
}, () => {
  let world: ReleaseWorld;
  let front: string;
  let id: string;

  beforeAll(async () => {
    world = await startReleaseWorld({
      strategy: 'canary',
      audienceMaps: true,
      serviceExtra: RINGS,
      env: { GREENLIGHT_RECONCILE_INTERVAL_SECONDS: '1' },
    });
    front = world.haproxy.frontendUrl('api');
  });

  afterAll(async () => {
    await world?.close();
  });

  const parentText = () =>
    world.slack
      .messages('C0RELEASES')
      .filter((m) => m.thread_ts === undefined && JSON.stringify(m.blocks).includes(id))
      .map((m) => JSON.stringify(m.blocks))
      .join('\n');

  const threadText = () => {
    const parent = world.slack
      .messages('C0RELEASES')
      .find((m) => m.thread_ts === undefined && JSON.stringify(m.blocks).includes(id));
    return world.slack
      .messages('C0RELEASES')
      .filter((m) => parent !== undefined && m.thread_ts === parent.ts)
      .map((m) => m.text)
      .join('\n');
  };

  it(
    'sends requests carrying the internal header to the new slot while every other request stays on production',
    IN_ORDER,
    async () => {
      ({ id } = await bumpAndRequestRelease(world, '2.4.1'));
      await world.click('U0LEAD', 'release_approve', id);
      await eventually(
        () => answers(front, { 'X-Greenlight-Ring': 'internal' }, 5),
        (seen) => seen.green === 5,
      );
      expect(await answers(front, { 'X-Greenlight-Ring': 'internal' })).toEqual({ green: 20 });
      expect(await answers(front, { 'X-Greenlight-Ring': 'beta' })).toEqual({ green: 20 });
      expect(await answers(front)).toEqual({ blue: 20 });
      expect(await answers(front, { 'X-Greenlight-Ring': 'customer' })).toEqual({ blue: 20 });
      await eventually(parentText, (text) => text.includes('Ring internal'));
      expect(parentText()).toContain('requests with X-Greenlight-Ring: internal, beta');
      expect(parentText()).toContain('Promote to ring early');
      await eventually(threadText, (text) =>
        text.includes(
          'Ring internal started: requests with X-Greenlight-Ring: internal, beta now reach 2.4.1 on green, everyone else stays on production; it soaks 60 min.',
        ),
      );
    },
  );

  it(
    'brings the audience back after an HAProxy reload, through the reconciler, and says so',
    IN_ORDER,
    async () => {
      await world.haproxy.reload();
      // The reload starts from the (empty) map file: the internal users are back on production.
      await eventually(
        () => answers(front, { 'X-Greenlight-Ring': 'internal' }, 5),
        (seen) => seen.green === 5,
        15_000,
      );
      expect(await answers(front)).toEqual({ blue: 20 });
      const drift = await eventually(
        () =>
          world.slack.messages('C0RELEASES').find((m) => m.text.includes('Rings: audience maps')),
        (m) => m !== undefined,
      );
      expect(drift?.text).toContain('header internal → green');
    },
  );

  it('keeps the audience and adds the percentage in the next ring', IN_ORDER, async () => {
    await world.click('U0LEAD', 'release_promote', id);
    await eventually(
      () => world.haproxy.serverStates('api'),
      (s) => s.green?.weight === 20 && s.blue?.weight === 80,
    );
    expect(await answers(front, { 'X-Greenlight-Ring': 'internal' })).toEqual({ green: 20 });
    // Round robin on weights 80/20: exactly one request in five to the new slot.
    const everyone = await answers(front, {}, 50);
    expect(everyone.green).toBe(10);
    expect(everyone.blue).toBe(40);
    await eventually(parentText, (text) => text.includes('Ring early'));
    await eventually(threadText, (text) => /ring early started/.test(text));
    expect(threadText()).toMatch(
      /promoted anyway, without evidence \(.*\): ring early started: 20 % of everyone now reach 2\.4\.1 on green \(20 % of everyone else too\); it soaks 1440 min/,
    );
    const status = await world.command('U0DEV1', '/release', 'status api');
    // Promoted before its analysis passed: not shown as passed.
    expect(status).toContain(
      'ring internal: requests with X-Greenlight-Ring: internal, beta · promoted without evidence',
    );
    expect(status).toMatch(/ring early: 20 % of everyone · now, soak left 14\d\d min/);
    expect(status).toContain('ring all: 100 % of everyone · next');
    expect(status).toContain('HAProxy audience: header internal → green, header beta → green');
  });

  it('a rollback from a later ring restores every ring', IN_ORDER, async () => {
    await world.command('U0DEV1', '/rollback', 'api bad numbers in ring early');
    await eventually(
      () => world.haproxy.serverStates('api'),
      (s) => s.blue?.weight === 100 && (s.green?.admin ?? 0) !== 0,
    );
    expect(await answers(front, { 'X-Greenlight-Ring': 'internal' })).toEqual({ blue: 20 });
    expect(await answers(front, { 'X-Greenlight-Ring': 'beta' })).toEqual({ blue: 20 });
    expect(await answers(front)).toEqual({ blue: 20 });
    expect((await world.haproxy.command(`show map ${await headerMap(world)}`)).trim()).toBe('');
    const history = await eventually(
      () => world.command('U0DEV1', '/release', 'history api'),
      (text) => text.includes('rolled back'),
    );
    expect(history).toContain('ring early of internal → early → all');
  });
});

/** The header map's path as greenlight.yml gives it to Greenlight. */
async function headerMap(world: ReleaseWorld): Promise<string> {
  const yaml = await readFile(world.configPath, 'utf8');
  return yaml.match(/"header":"([^"]+)"/)?.[1] ?? 'missing';
}

describe('rings on a fleet of two HAProxy instances, one frozen during a rollback', {
  concurrent: true,
}, () => {
  let world: ReleaseWorld;

  beforeAll(async () => {
    world = await startReleaseWorld({
      strategy: 'canary',
      audienceMaps: true,
      haproxyFleet: { regions: ['eu', 'us'] },
      serviceExtra: RINGS,
      env: { GREENLIGHT_RECONCILE_INTERVAL_SECONDS: '1' },
    });
  });

  afterAll(async () => {
    await world?.close();
  });

  it(
    '/rollback from ring internal takes the audience and weights back on the answering instance, names the frozen one, and repairs it once it answers',
    IN_ORDER,
    async () => {
      const [eu, us] = world.fleet as [HaproxyFixture, HaproxyFixture];
      const internal = { 'X-Greenlight-Ring': 'internal' };
      const { id } = await bumpAndRequestRelease(world, '2.4.1');
      await world.click('U0LEAD', 'release_approve', id);
      for (const lb of [eu, us])
        await eventually(
          () => answers(lb.frontendUrl('api'), internal, 5),
          (seen) => seen.green === 5,
          15_000,
        );
      us.freeze();
      try {
        await world.command('U0DEV1', '/rollback', 'api frozen load balancer');
        await eventually(
          () =>
            world.slack
              .messages('C0RELEASES')
              .map((m) => m.text)
              .join('\n'),
          (text) => text.includes('Rolled back on every load balancer but lb-2 (us)'),
          60_000,
        );
        expect(await answers(eu.frontendUrl('api'), internal)).toEqual({ blue: 20 });
        expect(await answers(eu.frontendUrl('api'))).toEqual({ blue: 20 });
      } finally {
        us.thaw();
      }
      // Answering again, lb-2 still routes internal users to 2.4.1 until the control loop clears it.
      await eventually(
        () => answers(us.frontendUrl('api'), internal, 5),
        (seen) => seen.blue === 5,
        20_000,
      );
      expect(await answers(us.frontendUrl('api'), internal)).toEqual({ blue: 20 });
    },
  );
});

// After the two above (not `concurrent`): at most two worlds start and run at once.
describe('rings with HAProxy never given the map files greenlight.yml names', () => {
  let world: ReleaseWorld;

  beforeAll(async () => {
    world = await startReleaseWorld({
      strategy: 'canary',
      audienceMaps: 'greenlight-only',
      serviceExtra: RINGS,
    });
  });

  afterAll(async () => {
    await world?.close();
  });

  it(
    'refuses /release up front, naming the map and how to fix it, before anyone approves',
    IN_ORDER,
    async () => {
      await world.command('U0DEV1', '/bump', 'api');
      await eventually(
        () => world.slack.messages('C0RELEASES').some((m) => m.text.includes('is on STANDBY')),
        Boolean,
        30_000,
      );
      const answer = await world.command('U0DEV1', '/release', 'api');
      expect(answer).not.toContain('requested');
      expect(answer).toContain('api-header.map');
      expect(answer).toContain('use-server');
    },
  );
});
