import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HaproxyFixture } from '../../testkit/haproxy-fixture.ts';
import {
  bumpAndRequestRelease,
  eventually,
  loadLoop,
  type ReleaseWorld,
  startReleaseWorld,
  trafficSplit,
} from '../../testkit/release-world.ts';

// Three real HAProxy processes in front of the same two slots, as a service behind a fleet of
// load balancers. What each instance serves is read from the instance itself (its frontend
// answers with the slot, its Runtime API with the server states), never from Greenlight.

/** The slot every request through this instance's frontend reaches, or the mix. */
async function servedBy(lb: HaproxyFixture): Promise<Record<string, number>> {
  return trafficSplit(lb.frontendUrl('api'), 10);
}

/** True when `slot` takes new requests on this instance and the other slot takes none. */
async function allOn(lb: HaproxyFixture, slot: 'blue' | 'green'): Promise<boolean> {
  const states = await lb.serverStates('api');
  const other = slot === 'blue' ? 'green' : 'blue';
  const takes = (s: { admin: number; weight: number } | undefined) =>
    s !== undefined && (s.admin & 0x3f) === 0 && s.weight > 0;
  return takes(states[slot]) && !takes(states[other]);
}

function threadText(world: ReleaseWorld, releaseId: string): string {
  const parent = world.slack
    .messages('C0RELEASES')
    .find((m) => m.thread_ts === undefined && JSON.stringify(m.blocks).includes(releaseId));
  return world.slack
    .messages('C0RELEASES')
    .filter((m) => parent !== undefined && m.thread_ts === parent.ts)
    .map((m) => m.text)
    .join('\n');
}

const AUDIT_TOKEN = 'fleet-audit-token';

// The describes below each have their own world (slots, HAProxy fleet, Redis namespace,
// Greenlight) and share nothing: they run side by side (`concurrent` on each describe). The
// tests within one build on each other's releases and run in order (`IN_ORDER`).
const IN_ORDER = { concurrent: false } as const;

describe('a service behind three HAProxy instances, switched all at once', {
  concurrent: true,
}, () => {
  let world: ReleaseWorld;

  beforeAll(async () => {
    world = await startReleaseWorld({
      haproxyFleet: { regions: ['eu', 'eu', 'us'] },
      env: { GREENLIGHT_RECONCILE_INTERVAL_SECONDS: '1', GREENLIGHT_AUDIT_TOKEN: AUDIT_TOKEN },
    });
  });

  afterAll(async () => {
    await world?.close();
  });

  it(
    'moves every instance on approval with no failed request, and status shows each one',
    IN_ORDER,
    async () => {
      const { id } = await bumpAndRequestRelease(world, '2.4.1');
      const loads = world.fleet.map((lb) => loadLoop(lb.frontendUrl('api'), 2, 2));
      await world.click('U0LEAD', 'release_approve', id);
      await eventually(
        () => world.slack.messages('C0RELEASES').some((m) => m.text.includes('2.4.1 released')),
        Boolean,
        30_000,
      );
      // A switch on a fast machine takes fewer requests than 20: the loads run on a little after.
      await eventually(() => loads.every((l) => l.count() > 20), Boolean, 30_000);
      const traffic = await Promise.all(loads.map((l) => l.stop()));
      for (const lb of world.fleet) expect(await servedBy(lb)).toEqual({ green: 10 });
      for (const t of traffic) {
        expect(t.total).toBeGreaterThan(20);
        expect(t.failed, t.errors.join(', ')).toBe(0);
      }
      const status = await world.command('U0DEV1', '/release', 'status api');
      expect(status).toContain('lb-1 (eu): green only');
      expect(status).toContain('lb-2 (eu): green only');
      expect(status).toContain('lb-3 (us): green only');
      // The audit trail records each load balancer's weights before and after the switch.
      const res = await fetch(`${world.app.url}/audit?limit=10000`, {
        headers: { authorization: `Bearer ${AUDIT_TOKEN}` },
      });
      const set = (await res.text())
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as { what: string; releaseId?: string; after?: unknown })
        .find((e) => e.what === 'traffic set' && e.releaseId === id);
      expect(set?.after).toMatchObject({
        instances: {
          'lb-1': { blue: 0, green: 100 },
          'lb-2': { blue: 0, green: 100 },
          'lb-3': { blue: 0, green: 100 },
        },
      });
    },
  );

  it('refuses /release while one instance does not answer, naming it', IN_ORDER, async () => {
    await world.command('U0DEV1', '/bump', 'api');
    await eventually(
      () => world.slack.messages('C0RELEASES').some((m) => m.text.includes('2.4.2 is on STANDBY')),
      Boolean,
      30_000,
    );
    await world.fleet[2]?.halt();
    try {
      const answer = await world.command('U0DEV1', '/release', 'api');
      expect(answer).toContain('lb-3 (us)');
      expect(answer).not.toContain('requested');
      const status = await world.command('U0DEV1', '/release', 'status api');
      expect(status).toMatch(/lb-3 \(us\): unreachable/);
      expect(status).toContain('lb-1 (eu): green only');
    } finally {
      await world.fleet[2]?.reload();
    }
  });

  it(
    'an instance lost before the switch: the others are restored, the thread names it, and the instance is corrected when it returns',
    IN_ORDER,
    async () => {
      const lost = world.fleet[2] as HaproxyFixture;
      // Back from the previous outage, lb-3 is put where the others are by the control loop.
      await eventually(() => allOn(lost, 'green'), Boolean, 30_000);
      // The control loop may still be recording what it set: /release then asks to try again.
      await eventually(
        () => world.command('U0DEV1', '/release', 'api'),
        (answer) => answer.includes('requested'),
      );
      const id = await latestPending(world);
      await lost.halt();
      const healthy = world.fleet.slice(0, 2);
      const loads = healthy.map((lb) => loadLoop(lb.frontendUrl('api'), 2, 2));
      await world.click('U0LEAD', 'release_approve', id);
      const thread = await eventually(
        () => threadText(world, id),
        (text) => /switch failed/i.test(text),
        30_000,
      );
      const traffic = await Promise.all(loads.map((l) => l.stop()));
      expect(thread).toContain('lb-3 (us) failed');
      expect(thread).toContain('retried once');
      expect(thread).toContain('lb-1 back to green only');
      expect(thread).toContain('lb-2 back to green only');
      for (const lb of healthy) expect(await servedBy(lb)).toEqual({ green: 10 });
      for (const t of traffic) expect(t.failed, t.errors.join(', ')).toBe(0);

      // Back from its outage, lb-3 serves its config file's default (blue: the unapproved 2.4.2)
      // until the control loop puts it where the others are.
      const driftBefore = driftNotes(world).length;
      await lost.reload();
      await eventually(() => allOn(lost, 'green'), Boolean, 30_000);
      expect(await servedBy(lost)).toEqual({ green: 10 });
      const drift = await eventually(
        () => driftNotes(world).slice(driftBefore),
        (notes) => notes.length > 0,
      );
      expect(drift[0]).toContain('lb-3 (us) sends blue only');
    },
  );

  it(
    '/rollback with one instance frozen: the others roll back, the instance is named loudly, and it is moved once it answers',
    IN_ORDER,
    async () => {
      const frozen = world.fleet[2] as HaproxyFixture;
      await eventually(() => allOn(frozen, 'green'), Boolean, 15_000);
      await eventually(
        () => world.command('U0DEV1', '/release', 'api'),
        (answer) => answer.includes('requested'),
      );
      const id = await latestPending(world);
      await world.click('U0LEAD', 'release_approve', id);
      await eventually(
        () => world.slack.messages('C0RELEASES').some((m) => m.text.includes('2.4.2 released')),
        Boolean,
        30_000,
      );
      for (const lb of world.fleet) await eventually(() => allOn(lb, 'blue'), Boolean, 15_000);
      // Frozen, lb-3 keeps serving 2.4.2 on blue to whoever still reaches it, and answers nothing.
      frozen.freeze();
      try {
        await world.command('U0DEV1', '/rollback', 'api frozen load balancer');
        const thread = await eventually(
          () => threadText(world, id),
          (text) => text.includes('may still send users to 2.4.2'),
          60_000,
        );
        expect(thread).toContain('Rolled back on every load balancer but lb-3 (us)');
        // Also in the alerts channel, beside "Production restored", where it is not missed.
        await eventually(
          () => world.slack.messages('C0ALERTS').some((m) => m.text.includes('but lb-3 (us)')),
          Boolean,
        );
        expect(threadText(world, id)).not.toMatch(/rollback failed/i);
        for (const lb of world.fleet.slice(0, 2)) expect(await servedBy(lb)).toEqual({ green: 10 });
        // The audit trail has the rollback's move, with the instance it could not read.
        const res = await fetch(`${world.app.url}/audit?limit=10000`, {
          headers: { authorization: `Bearer ${AUDIT_TOKEN}` },
        });
        const rolledBack = (await res.text())
          .split('\n')
          .filter(Boolean)
          .map((line) => JSON.parse(line) as { what: string; releaseId?: string; after?: unknown })
          .filter((e) => e.what === 'traffic set' && e.releaseId === id)
          .at(-1);
        expect(rolledBack?.after).toMatchObject({
          instances: {
            'lb-1': { blue: 0, green: 100 },
            'lb-2': { blue: 0, green: 100 },
            'lb-3': { error: expect.stringMatching(/did not answer/) },
          },
        });
      } finally {
        frozen.thaw();
      }
      // Answering again, it still sends blue (2.4.2) until the control loop moves it.
      await eventually(() => allOn(frozen, 'green'), Boolean, 20_000);
      expect(await servedBy(frozen)).toEqual({ green: 10 });
    },
  );

  it(
    'one instance answering but sending nothing (both slots drained by hand) reads as drift, and only it is set back',
    IN_ORDER,
    async () => {
      const [lb1, lb2, lb3] = world.fleet as [HaproxyFixture, HaproxyFixture, HaproxyFixture];
      for (const lb of world.fleet) await eventually(() => allOn(lb, 'green'), Boolean, 20_000);
      const driftBefore = driftNotes(world).length;
      const [before1, before3] = [await lb1.serverStates('api'), await lb3.serverStates('api')];
      await lb2.command('set server api/blue state drain; set server api/green state drain');
      await eventually(() => allOn(lb2, 'green'), Boolean, 15_000);
      expect(await servedBy(lb2)).toEqual({ green: 10 });
      // The notes that name lb-2: the previous test's correction of lb-3 is announced through
      // the outbox and can land after `driftBefore` was counted (seen once on a busy machine).
      const drift = await eventually(
        () =>
          driftNotes(world)
            .slice(driftBefore)
            .filter((note) => note.includes('lb-2')),
        (notes) => notes.length > 0,
      );
      expect(drift[0]).toContain('lb-2 (eu) sends no slot');
      expect(drift[0]).not.toContain('lb-1 (eu)');
      // Nor does any other note since the drain name lb-1.
      expect(driftNotes(world).slice(driftBefore).join('\n')).not.toContain('lb-1 (eu)');
      expect(await lb1.serverStates('api')).toEqual(before1);
      expect(await lb3.serverStates('api')).toEqual(before3);
    },
  );
});

function driftNotes(world: ReleaseWorld): string[] {
  return world.slack
    .messages('C0RELEASES')
    .map((m) => m.text)
    .filter((text) => text.includes('Load balancers off'));
}

async function latestPending(world: ReleaseWorld): Promise<string> {
  return eventually(
    () =>
      JSON.stringify(
        world.slack
          .messages('C0RELEASES')
          .filter((m) => m.thread_ts === undefined && m.text.includes('→ 2.4.2'))
          .at(-1)?.blocks ?? [],
      ).match(/"value":"(rel-[^":]+)/)?.[1] ?? '',
    (value) => value !== '',
  );
}

/** Three instances switched region by region: eu, then both us ones. */
const regionWorld = () =>
  startReleaseWorld({
    // Each test sees the first region move, checks the next has not, and acts (halts an
    // instance, kills Greenlight) within the soak: 4 s is a few socket round trips many times
    // over. A switch that fails pays it on each of its three tries.
    haproxyFleet: { regions: ['eu', 'us', 'us'], order: 'region', regionSoakSeconds: 4 },
    env: { GREENLIGHT_STALLED_INTERVAL_MS: '2000' },
  });

describe('a service behind three HAProxy instances, switched region by region', {
  concurrent: true,
}, () => {
  let world: ReleaseWorld;

  beforeAll(async () => {
    world = await regionWorld();
  });

  afterAll(async () => {
    await world?.close();
  });

  it(
    'an instance stopped mid-switch: the release does not end split, and the thread says what was done',
    IN_ORDER,
    async () => {
      const [eu, us1, us2] = world.fleet as [HaproxyFixture, HaproxyFixture, HaproxyFixture];
      const { id } = await bumpAndRequestRelease(world, '2.4.1');
      const loads = [eu, us1].map((lb) => loadLoop(lb.frontendUrl('api'), 2, 2));
      await world.click('U0LEAD', 'release_approve', id);
      // The first region has switched and soaks; the second has not moved yet.
      await eventually(() => allOn(eu, 'green'), Boolean, 15_000, 10);
      expect(await allOn(us1, 'blue')).toBe(true);
      expect(await allOn(us2, 'blue')).toBe(true);
      await us2.halt();
      const thread = await eventually(
        () => threadText(world, id),
        (text) => /switch failed/i.test(text),
        30_000,
      );
      const traffic = await Promise.all(loads.map((l) => l.stop()));
      expect(thread).toContain('lb-3 (us) failed');
      expect(thread).toContain('lb-1 back to blue only');
      // Every instance that answers serves the same version: the one still PRODUCTION.
      expect(await servedBy(eu)).toEqual({ blue: 10 });
      expect(await servedBy(us1)).toEqual({ blue: 10 });
      for (const t of traffic) {
        expect(t.total).toBeGreaterThan(20);
        expect(t.failed, t.errors.join(', ')).toBe(0);
      }
      const status = await world.command('U0DEV1', '/release', 'status api');
      expect(status).toMatch(/Last release: 2\.4\.0 → 2\.4\.1 \(patch\) failed/);
      await us2.reload();
    },
  );

  it('with every instance up, moves one region, soaks, then the next', IN_ORDER, async () => {
    const [eu, us1, us2] = world.fleet as [HaproxyFixture, HaproxyFixture, HaproxyFixture];
    const answer = await world.command('U0DEV1', '/release', 'api');
    expect(answer).toContain('requested');
    const id = await eventually(
      () =>
        JSON.stringify(
          world.slack
            .messages('C0RELEASES')
            .filter(
              (m) =>
                m.thread_ts === undefined &&
                m.text.includes('→ 2.4.1') &&
                JSON.stringify(m.blocks).includes('release_approve'),
            )
            .at(-1)?.blocks ?? [],
        ).match(/"value":"(rel-[^":]+)/)?.[1] ?? '',
      (value) => value !== '',
    );
    await world.click('U0LEAD', 'release_approve', id);
    await eventually(() => allOn(eu, 'green'), Boolean, 15_000, 10);
    expect(await allOn(us1, 'blue')).toBe(true);
    await eventually(
      async () => (await allOn(us1, 'green')) && (await allOn(us2, 'green')),
      Boolean,
      15_000,
    );
    await eventually(
      () => world.slack.messages('C0RELEASES').some((m) => m.text.includes('2.4.1 released')),
      Boolean,
      15_000,
    );
    for (const lb of world.fleet) expect(await servedBy(lb)).toEqual({ green: 10 });
  });
});

// A world of its own (the first release of 2.4.1 onto green), beside the one above: most of
// this test waits for the killed process's locks to lapse.
describe('a service behind three HAProxy instances, switched region by region, Greenlight killed', {
  concurrent: true,
}, () => {
  let world: ReleaseWorld;

  beforeAll(async () => {
    world = await regionWorld();
  });

  afterAll(async () => {
    await world?.close();
  });

  it(
    'Greenlight killed while a region soaks: the step resumes and finishes every region, once',
    IN_ORDER,
    async () => {
      const [eu, us1, us2] = world.fleet as [HaproxyFixture, HaproxyFixture, HaproxyFixture];
      const { id } = await bumpAndRequestRelease(world, '2.4.1');
      const loads = world.fleet.map((lb) => loadLoop(lb.frontendUrl('api'), 2, 2));
      await world.click('U0LEAD', 'release_approve', id);
      await eventually(() => allOn(eu, 'green'), Boolean, 15_000, 10);
      expect(await allOn(us1, 'blue')).toBe(true);
      await world.app.stop('SIGKILL');
      await world.restart();
      await eventually(
        async () => (await allOn(us1, 'green')) && (await allOn(us2, 'green')),
        Boolean,
        30_000,
      );
      await eventually(
        () => world.slack.messages('C0RELEASES').some((m) => m.text.includes('2.4.1 released')),
        Boolean,
        15_000,
      );
      const traffic = await Promise.all(loads.map((l) => l.stop()));
      for (const lb of world.fleet) expect(await servedBy(lb)).toEqual({ green: 10 });
      for (const t of traffic) expect(t.failed, t.errors.join(', ')).toBe(0);
      expect(threadText(world, id).match(/switch failed/gi)).toBeNull();
    },
  );
});
