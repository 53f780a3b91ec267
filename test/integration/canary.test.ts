import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bumpAndRequestRelease,
  eventually,
  loadLoop,
  type ReleaseWorld,
  startReleaseWorld,
  trafficSplit,
} from '../../testkit/release-world.ts';
import type { EmulatedMessage } from '../../testkit/slack-emulator.ts';
import { restoredAlert } from '../support/world-inspection.ts';

const CANARY = (
  autoPromote: boolean,
) => `    canary: { steps: [20, 50, 100], holdMinutes: 0.02, autoPromote: ${autoPromote} }
    analysis: { source: haproxy, maxErrorRatePercent: 5, maxP99Ms: 800, minRequests: 5, intervalSeconds: 0.5, consecutiveBreaches: 2, errorRateFloorPercent: 5 }
    progressIntervalMinutes: 0.02
`;

const textOf = (m: EmulatedMessage | undefined) =>
  m === undefined ? '' : `${m.text}\n${JSON.stringify(m.blocks)}`;

function thread(world: ReleaseWorld, releaseId: string): EmulatedMessage[] {
  const parent = world.slack
    .messages('C0RELEASES')
    .find((m) => m.thread_ts === undefined && textOf(m).includes(`Release ${releaseId}`));
  return parent ? world.slack.messages('C0RELEASES').filter((m) => m.thread_ts === parent.ts) : [];
}

const requestRelease = async (world: ReleaseWorld, version: string, level = 'patch') =>
  (await bumpAndRequestRelease(world, version, `api ${level}`)).id;

// 60 s, paid only on failure: a hold passes on evidence, whose pace is the load loops' request
// rate, and that rate falls several times over when the machine is busy (seen: 30 requests a
// second, the first hold passing 17-20 s after the load started, with several files at once).
const threadHas = (world: ReleaseWorld, id: string, text: string) =>
  eventually(
    () => thread(world, id).find((m) => textOf(m).includes(text)),
    (m) => m !== undefined,
    60_000,
  );

// The two describes below each have their own world and share nothing: they run side by side
// (`concurrent` on each describe). The tests within one build on each other's releases and run
// in order (`IN_ORDER`).
const IN_ORDER = { concurrent: false } as const;

describe('canary with automatic promotion and automatic rollback', { concurrent: true }, () => {
  let world: ReleaseWorld;
  let load: ReturnType<typeof loadLoop>;

  beforeAll(async () => {
    world = await startReleaseWorld({
      strategy: 'canary',
      stabilityWindowMinutes: 0.03,
      serviceExtra: CANARY(true),
    });
    load = loadLoop(world.haproxy.frontendUrl('api'), 3);
  });
  afterAll(async () => {
    await load?.stop();
    await world?.close();
  });

  it(
    'ramps a healthy canary through every step, observes, and releases, with progress updates that stop at the end',
    IN_ORDER,
    async () => {
      const id = await requestRelease(world, '2.4.1');
      expect(await world.click('U0LEAD', 'release_approve', id)).toContain('All approvals are in');
      await threadHas(world, id, 'Canary at 20 %: green 20 %, blue 80 %');
      // Users reach both versions. Sampled until both answer: the load loop's requests share
      // HAProxy's round robin with these, so a short sample can miss the canary's turns.
      const split = await eventually(
        () => trafficSplit(world.haproxy.frontendUrl('api'), 20),
        (seen) => (seen.green ?? 0) > 0 && (seen.blue ?? 0) > 0,
        10_000,
      );
      expect(split.green).toBeGreaterThan(0);
      expect(split.blue).toBeGreaterThan(0);
      await threadHas(world, id, 'Hold at 20 % passed: promoting');
      await threadHas(world, id, 'canary at 50 %');
      await threadHas(world, id, 'Green takes 100 % of traffic');
      await threadHas(world, id, 'stability window passed');
      expect(await trafficSplit(world.haproxy.frontendUrl('api'))).toEqual({ green: 10 });
      const steps = thread(world, id).filter((m) => m.text.includes('Canary at 20 %'));
      expect(steps).toHaveLength(1);

      const progress = thread(world, id).filter((m) =>
        m.text.includes('Progress · api 2.4.0 → 2.4.1'),
      );
      // 1.2 s interval over a release of several seconds: more than one update, one per tick.
      expect(progress.length).toBeGreaterThanOrEqual(2);
      expect(textOf(progress.at(-1))).toMatch(/Canary \(green\):|waiting for approval/);
      const settled = thread(world, id).filter((m) => m.text.includes('Progress')).length;
      await new Promise((r) => setTimeout(r, 3000));
      expect(thread(world, id).filter((m) => m.text.includes('Progress')).length).toBe(settled);
      const stats = await load.stop();
      expect(stats.failed).toBe(0);
      load = loadLoop(world.haproxy.frontendUrl('api'), 3);
    },
  );

  it(
    'rolls back by itself when the canary breaches the error threshold, naming the figure',
    IN_ORDER,
    async () => {
      await world.command('U0DEV1', '/sync', 'api');
      await eventually(
        () =>
          world.slack
            .messages('C0RELEASES')
            .some((m) => m.text.includes('STANDBY (blue) of api is in sync')),
        Boolean,
      );
      const id = await requestRelease(world, '2.5.0', 'minor');
      world.services.api?.blue.set({ errorRate: 0.5 });
      expect(await world.click('U0DEV2', 'release_approve', id)).toContain('All approvals are in');
      const alert = await restoredAlert(world);
      expect(textOf(alert)).toContain('*Rolled back to:* 2.4.1 (green)');
      const text = textOf(alert);
      // Strong evidence against the baseline, or the ceiling twice: whichever comes first.
      expect(text).toMatch(/strong evidence of harm|above the 5 % ceiling/);
      expect(text).toMatch(/\*Canary \(blue\):\* [\d,]+ req · [\d,]+ errors/);
      expect(text).toContain('*Who:* automatic');
      world.services.api?.blue.set({ errorRate: 0 });
      expect(await trafficSplit(world.haproxy.frontendUrl('api'))).toEqual({ green: 10 });
      expect(await world.command('U0DEV1', '/release', 'api')).toContain(
        'api 2.5.0 is marked faulty',
      );
    },
  );
});

describe('canary with manual promotion: no evidence, Promote, restarts', {
  concurrent: true,
}, () => {
  let world: ReleaseWorld;
  let load: ReturnType<typeof loadLoop> | undefined;

  beforeAll(async () => {
    world = await startReleaseWorld({
      strategy: 'canary',
      stabilityWindowMinutes: 0.02,
      serviceExtra: CANARY(false),
    });
  });
  afterAll(async () => {
    await load?.stop();
    await world?.close();
  });

  it(
    'holds a silent canary past its hold and asks for Promote anyway, never promoting by itself',
    IN_ORDER,
    async () => {
      const id = await requestRelease(world, '2.4.1');
      await world.click('U0LEAD', 'release_approve', id);
      await threadHas(world, id, 'Canary at 20 %');
      // No load: no evidence either way, so the hold ends by asking, not by passing.
      await threadHas(world, id, 'ended without evidence');
      const parent = await eventually(
        async () =>
          world.slack.messages('C0RELEASES').find((m) => textOf(m).includes(`Release ${id}`)),
        (m) => textOf(m).includes('Promote anyway to 50 %'),
      );
      expect(textOf(parent)).toContain('waiting for Promote anyway or Abort');
      expect(thread(world, id).some((m) => m.text.includes('canary at 50 %'))).toBe(false);
      expect(await world.click('U0DEV1', 'release_promote', id)).toContain(
        'an approver must promote it',
      );
    },
  );

  it(
    'waits for Promote after each hold, never reaching 100 % unattended, and survives a restart mid-hold',
    IN_ORDER,
    async () => {
      const id =
        (await world.slack
          .messages('C0RELEASES')
          .map(textOf)
          .join('\n')
          .match(/"value":"(rel-[^":]+)/g)
          ?.pop()
          ?.match(/rel-[^"]+/)?.[0]) ?? '';
      // Traffic brings evidence: the Promote anyway becomes a plain Promote.
      load = loadLoop(world.haproxy.frontendUrl('api'), 3);
      await threadHas(world, id, 'Hold at 20 % passed: an approver clicks Promote to continue');
      await new Promise((r) => setTimeout(r, 2000));
      expect(thread(world, id).some((m) => m.text.includes('canary at 50 %'))).toBe(false);

      await world.restart();
      expect(await world.click('U0LEAD', 'release_promote', id)).toContain(
        'Promoting api 2.4.1 to 50 %',
      );
      await threadHas(world, id, 'canary at 50 %');
      await threadHas(world, id, 'Hold at 50 % passed: an approver clicks Promote');
      expect(await world.click('U0LEAD', 'release_promote', id)).toContain('to 100 %');
      await threadHas(world, id, 'stability window passed');
      expect(thread(world, id).filter((m) => m.text.includes('Canary at 20 %'))).toHaveLength(1);
      expect(thread(world, id).filter((m) => m.text.includes('canary at 50 %'))).toHaveLength(1);
      expect(await trafficSplit(world.haproxy.frontendUrl('api'))).toEqual({ green: 10 });
      const stats = await load.stop();
      load = undefined;
      expect(stats.failed, stats.errors.join(', ')).toBe(0);
    },
  );
});
