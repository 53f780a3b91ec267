import type { Queue } from 'bullmq';
import { describe, it, type onTestFinished } from 'vitest';
import {
  bumpAndRequestRelease,
  buttonValue,
  eventually,
  loadLoop,
  pendingReleaseId,
  type ReleaseWorld,
  startReleaseWorld,
  trafficSplit,
  type WorldOptions,
} from '../../testkit/release-world.ts';
import {
  IN_TURN,
  isScheduled,
  LANE,
  passesSince,
  stepsSettled,
  withStepsQueue,
} from '../support/step-queue.ts';
import {
  alive,
  api,
  channelText,
  front,
  isThisFilesDeploy,
  pidsOf,
  REFUSED,
  releaseReaches,
  releaseState,
  releaseToGreen,
  sleep,
  trafficAllOn,
} from '../support/world-inspection.ts';

/**
 * The eight defects of issue 10 ("The release controller"), one test each, driven as a user
 * drives Greenlight: signed Slack requests against real Redis, HAProxy and deploy processes.
 * Each asserts what a person would notice: traffic through HAProxy's frontend, the release
 * state in Redis, the messages in Slack, and the deploy processes that run.
 */

// ---------------------------------------------------------------------------------------------
// Shared setup
// ---------------------------------------------------------------------------------------------

/** A canary that stays at its first step (20 %) for ten minutes, with a lenient analysis. */
const HOLDING_CANARY = `    canary: { steps: [20, 100], holdMinutes: 10 }
    analysis: { source: haproxy, maxErrorRatePercent: 50, maxP99Ms: 5000, minRequests: 0, intervalSeconds: 1 }
`;
/** A lenient analysis for a blue/green stability window. */
const LENIENT_ANALYSIS = `    analysis: { source: haproxy, maxErrorRatePercent: 50, maxP99Ms: 5000, minRequests: 0, intervalSeconds: 1 }
`;

/**
 * What one test started, ended when it finishes (passed or not): its world and its load loop,
 * and deploys it left hanging (mode `hang`), each by its own pid. Per test, not per file: the
 * lanes below run side by side.
 */
interface Scope {
  open(options: WorldOptions): Promise<ReleaseWorld>;
  load?: ReturnType<typeof loadLoop> | undefined;
}

function scope(finished: typeof onTestFinished): Scope {
  let world: ReleaseWorld | undefined;
  const s: Scope = {
    async open(options) {
      world = await startReleaseWorld(options);
      return world;
    },
  };
  finished(async () => {
    await s.load?.stop();
    if (world === undefined) return;
    for (const service of Object.values(world.services)) {
      for (const pid of pidsOf(await service.deployRuns())) {
        if (alive(pid) && isThisFilesDeploy(pid)) process.kill(pid, 'SIGKILL');
      }
    }
    await world.close();
  });
  return s;
}

/** The version a slot server reports on its version endpoint. */
async function reportedVersion(slotUrl: string): Promise<string> {
  return ((await (await fetch(`${slotUrl}/version`)).json()) as { version: string }).version;
}

/** The deploy run of `version` once its process has started: `{ pid }`. */
async function deployRunOf(w: ReleaseWorld, version: string): Promise<{ pid: number }> {
  const line = await eventually(
    async () => (await api(w).deployRuns()).find((l) => l.split(' ')[1] === version),
    (l) => l !== undefined,
  );
  return { pid: Number(line?.split(' ')[2]) };
}

const releaseIdOf = (data: unknown) => (data as { releaseId?: unknown } | null)?.releaseId;

/**
 * Loses the queued work that `action` leaves behind, as a crash or a Redis blip between a state
 * write and its enqueue would. The queue is paused, `action` runs, and once nothing of it is
 * active, what is lost is removed: with a release id, every job and job scheduler of that
 * release; without one, every queued step job (the scheduled ones, such as the periodic
 * reconcile, stay). Then the queue resumes.
 */
async function loseQueuedWork(
  w: ReleaseWorld,
  action: () => Promise<unknown>,
  releaseId?: string,
): Promise<{ lost: string[] }> {
  const isLost = (job: { id?: string; repeatJobKey?: string; data: unknown }) =>
    releaseId === undefined ? !isScheduled(job) : releaseIdOf(job.data) === releaseId;
  return withStepsQueue(w, async (queue) => {
    await queue.pause();
    const lost: string[] = [];
    try {
      await action();
      const jobs = async (types: Parameters<Queue['getJobs']>[0]) =>
        (await queue.getJobs(types)).filter(isLost);
      // Let a step that was already running finish (and enqueue whatever it enqueues).
      await eventually(
        () => jobs(['active']),
        (active) => active.length === 0,
        15_000,
        50,
      );
      for (let round = 0; round < 3; round += 1) {
        if (releaseId !== undefined) {
          for (const scheduler of await queue.getJobSchedulers()) {
            if (
              scheduler.key.includes(releaseId) ||
              releaseIdOf(scheduler.template?.data) === releaseId
            ) {
              await queue.removeJobScheduler(scheduler.key);
              lost.push(`scheduler ${scheduler.key}`);
            }
          }
        }
        for (const job of await jobs(['waiting', 'delayed', 'prioritized'])) {
          await job.remove();
          lost.push(`${job.name} ${job.id}`);
        }
        await sleep(300);
      }
    } finally {
      await queue.resume();
    }
    return { lost };
  });
}

/** Requests each slot server answered (all of them came through HAProxy) since the last call. */
function servedCounter(w: ReleaseWorld) {
  const { blue, green } = api(w);
  let last = { blue: blue.served.total, green: green.served.total };
  return () => {
    const now = { blue: blue.served.total, green: green.served.total };
    const delta = { blue: now.blue - last.blue, green: now.green - last.green };
    last = now;
    return delta;
  };
}

// ---------------------------------------------------------------------------------------------
// The eight defects
// ---------------------------------------------------------------------------------------------

// Every test has a world of its own (slot servers, HAProxy, a Redis key prefix, Greenlight) and
// cleans it up itself, so tests share nothing: three lanes run side by side, each running its
// tests one after another (at most three worlds at once, on a 2-core machine beside other files).

describe('controller defects (issue 10)', () => {
  describe('lane 1', LANE, () => {
    // Defect 3: next steps were enqueued after the state was written, so a lost job left
    // `switching` with no job, `observing` forever, or a /bump holding the service.
    it(
      '3. a release or operation whose job was lost still finishes',
      IN_TURN,
      async ({ expect, onTestFinished }) => {
        const s = scope(onTestFinished);
        const w = await s.open({
          stabilityWindowMinutes: 0.1,
          serviceExtra: LENIENT_ANALYSIS,
          deployTimeoutSeconds: 5,
          env: { GREENLIGHT_RECONCILE_INTERVAL_SECONDS: '1' },
        });
        s.load = loadLoop(front(w), 2, 20);

        // (a) What the final approval queues for the release (its switch) is lost.
        const first = await bumpAndRequestRelease(w, '2.4.1');
        const a = await loseQueuedWork(
          w,
          () => w.click('U0LEAD', 'release_approve', first.id),
          first.id,
        );
        expect(a.lost.length, 'no step job to lose after the approval').toBeGreaterThan(0);
        await trafficAllOn(w, 'green', 25_000);
        await releaseReaches(w, first.id, 'released', 25_000);

        // (b) The deploy job of a /bump is lost: the bump finishes or is ended, and frees api.
        const b = await loseQueuedWork(w, () => w.command('U0DEV1', '/bump', 'api'));
        expect(b.lost.length, 'no step job to lose after /bump').toBeGreaterThan(0);
        await eventually(
          () => w.command('U0DEV1', '/bump', 'api --dry-run'),
          (plan) => !plan.includes('is busy'),
          25_000,
          250,
        );
        // The lost bump's own result may still be on its way to Slack: follow the newest /bump
        // message (each is posted when it starts and edited with its result).
        const deployMessages = () =>
          w.slack.messages('C0RELEASES').filter((m) => /\/bump by/.test(JSON.stringify(m.blocks)));
        const before = deployMessages().length;
        const again = await w.command('U0DEV1', '/bump', 'api');
        expect(again).not.toContain(REFUSED);
        expect(again).toContain('Deploying api 2.4.2');
        await eventually(
          () => deployMessages().slice(before).at(-1)?.text ?? '',
          (text) => text.includes('api 2.4.2 is on STANDBY'),
          25_000,
        );

        // (c) What is queued for a release while it observes (its analysis) is lost.
        const answer = await w.command('U0DEV1', '/release', 'api');
        expect(answer).toContain('requested');
        const second = await pendingReleaseId(w, '2.4.2');
        await w.click('U0LEAD', 'release_approve', second);
        await releaseReaches(w, second, 'observing');
        const c = await loseQueuedWork(w, async () => undefined, second);
        expect(await releaseState(w, second)).toBe('observing');
        expect(c.lost.length, 'no step job to lose while observing').toBeGreaterThan(0);
        await releaseReaches(w, second, 'released', 25_000);
        expect(await trafficSplit(front(w))).toEqual({ blue: 10 });
      },
    );

    // Defect 2: the second switch job got the id of the completed first one, so BullMQ dropped it
    // and the release sat in `switching`, holding the service.
    it(
      '2. a voided approval can be approved again and switches',
      IN_TURN,
      async ({ expect, onTestFinished }) => {
        const s = scope(onTestFinished);
        const w = await s.open({});
        const { id } = await bumpAndRequestRelease(w, '2.4.1');

        // Something else holds the traffic lock, so the switch step waits for it.
        const lock = `{${w.redis.keyPrefix}}:lock:traffic-api`;
        // Held until the test deletes it; the expiry only bounds a test that failed midway (a short
        // one could run out before the version changes below on a busy machine, and let it switch).
        expect(await w.redis.redis.set(lock, 'held-by-the-test', 'PX', 60_000, 'NX')).toBe('OK');
        await w.click('U0LEAD', 'release_approve', id);
        await releaseReaches(w, id, 'switching');
        // Meanwhile STANDBY changes under the approval.
        api(w).green.set({ version: '2.4.9' });
        await w.redis.redis.del(lock);
        await releaseReaches(w, id, 'awaiting_approval');
        expect(await trafficSplit(front(w))).toEqual({ blue: 10 });

        // STANDBY is back as approved: the lead approves again, and this time it switches. From
        // the card as redrawn for the voided approval (the outbox may lag the record): a click
        // on the card still drawn for the switch is rightly refused as out of date.
        api(w).green.set({ version: '2.4.1' });
        await eventually(
          () => buttonValue(w.slack, id),
          (value) => value === `${id}:awaiting_approval`,
          20_000,
        );
        expect(await w.click('U0LEAD', 'release_approve', id)).not.toContain(REFUSED);
        await trafficAllOn(w, 'green');
        await releaseReaches(w, id, 'released');
        const next = await w.command('U0DEV1', '/bump', 'api');
        expect(next).not.toContain(REFUSED);
        expect(next).toContain('Deploying api 2.4.2');
      },
    );
  });

  describe('lane 2', LANE, () => {
    // Defect 7: deploy processes were detached, so they outlived a killed worker while the
    // stalled job ran the deploy again beside them.
    it('7. a deploy never runs twice at once', IN_TURN, async ({ expect, onTestFinished }) => {
      const s = scope(onTestFinished);
      const w = await s.open({ env: { GREENLIGHT_STALLED_INTERVAL_MS: '2000' } });
      await api(w).setDeployMode('hang');
      expect(await w.command('U0DEV1', '/bump', 'api')).toContain('Deploying api 2.4.1');
      const firstRun = await deployRunOf(w, '2.4.1');

      // The worker dies hard: its deploy must die with it.
      w.app.child.kill('SIGKILL');
      await w.app.exited;
      await eventually(
        () => alive(firstRun.pid),
        (running) => !running,
        3000,
        50,
      );

      await api(w).setDeployMode('ok');
      await w.restart({ GREENLIGHT_STALLED_INTERVAL_MS: '2000' });
      const firstAliveAtRerun = await eventually(
        async () => ({
          runs: (await api(w).deployRuns()).length,
          firstAlive: alive(firstRun.pid),
        }),
        (seen) => seen.runs >= 2,
        30_000,
        50,
      );
      expect(firstAliveAtRerun.firstAlive).toBe(false);
      await eventually(
        () => channelText(w, 'C0RELEASES').includes('api 2.4.1 is on STANDBY (green), healthy'),
        Boolean,
        30_000,
      );
      expect(api(w).green.state.version).toBe('2.4.1');
    });

    // Defect 1: reconcile skipped only `switching` and `rolling_back`, so during `ramping` it
    // called switchTo(production) and drained the canary within one interval.
    it(
      '1. the periodic reconcile keeps a canary at its split',
      IN_TURN,
      async ({ expect, onTestFinished }) => {
        const s = scope(onTestFinished);
        const w = await s.open({
          strategy: 'canary',
          serviceExtra: HOLDING_CANARY,
          env: { GREENLIGHT_RECONCILE_INTERVAL_SECONDS: '1' },
        });
        s.load = loadLoop(front(w), 3);
        const { id } = await bumpAndRequestRelease(w, '2.4.1');
        await w.click('U0LEAD', 'release_approve', id);
        await releaseReaches(w, id, 'ramping');
        await eventually(
          () => trafficSplit(front(w), 20),
          (split) => (split.green ?? 0) > 0,
        );

        // Eight reconcile intervals under load: every second, green serves about a fifth.
        const served = servedCounter(w);
        const windows: { blue: number; green: number }[] = [];
        for (let second = 0; second < 8; second += 1) {
          await sleep(1000);
          windows.push(served());
        }
        const total = windows.reduce(
          (t, d) => ({ blue: t.blue + d.blue, green: t.green + d.green }),
          {
            blue: 0,
            green: 0,
          },
        );
        const shares = windows.map((d) => d.green / Math.max(1, d.blue + d.green));
        expect(total.blue + total.green).toBeGreaterThan(100);
        expect(
          shares.every((share) => share > 0.1 && share < 0.3),
          `green share per second: ${shares.map((s) => s.toFixed(2)).join(' ')}`,
        ).toBe(true);

        expect(await releaseState(w, id)).toBe('ramping');
        expect(channelText(w, 'C0RELEASES')).not.toContain('Traffic drift');
        expect((await s.load.stop()).failed).toBe(0);
        s.load = undefined;
      },
    );
  });

  describe('lane 3', LANE, () => {
    // Defect 6: with the service's key gone, the reconciler forced traffic to the bootstrap slot
    // (an old version), and /rollback said there was nothing to roll back.
    it(
      '6. losing the service key never moves traffic',
      IN_TURN,
      async ({ expect, onTestFinished }) => {
        const s = scope(onTestFinished);
        const w = await s.open({ env: { GREENLIGHT_RECONCILE_INTERVAL_SECONDS: '1' } });
        await releaseToGreen(w);

        /**
         * Requests through HAProxy, counted by the slot that answered, until `passes` passes of the
         * control loop (one a second here) that began after the watch began have ended.
         */
        const watchTraffic = (passes: number) =>
          withStepsQueue(w, async (q) => {
            const since = Date.now();
            const seen: Record<string, number> = {};
            do {
              for (const [slot, n] of Object.entries(await trafficSplit(front(w), 5)))
                seen[slot] = (seen[slot] ?? 0) + n;
              await sleep(50);
            } while ((await passesSince(q, since)) < passes);
            return seen;
          });
        await w.redis.redis.del(`{${w.redis.keyPrefix}}:service:api`);
        const afterLoss = await watchTraffic(4); // four passes of the reconciler after the loss
        expect(afterLoss).toEqual({ green: expect.any(Number) });
        await eventually(() => /adopt/i.test(channelText(w, 'C0RELEASES')), Boolean, 10_000);

        await w.restart();
        expect(await watchTraffic(2)).toEqual({ green: expect.any(Number) });
        expect(await w.command('U0DEV1', '/release', 'status api')).toMatch(
          /PRODUCTION: green 2\.4\.1/,
        );

        const answer = await w.command('U0LEAD', '/rollback', 'api after the data loss');
        expect(answer).not.toContain(REFUSED);
        await trafficAllOn(w, 'blue');
        expect(await reportedVersion(api(w).blue.url)).toBe('2.4.0');
      },
    );

    // Defect 5: "Approve rollback" on an older release redeployed its old version onto the slot
    // serving production and marked an unrelated version faulty.
    it('5. a stale Approve rollback is refused', IN_TURN, async ({ expect, onTestFinished }) => {
      const s = scope(onTestFinished);
      const w = await s.open({
        serviceExtra: `    releaseTypes:
      patch: { approvals: [lead], rollbackWindowMinutes: 0.005 }
`,
      });
      const rel1 = await releaseToGreen(w);
      // The 0.3 s rollback window began before the release was seen released: it is past now.
      await sleep(600);
      expect(await w.command('U0DEV1', '/rollback', 'api it broke')).toContain(
        'waits for an approval',
      );

      // Nobody approves; the team moves on: /sync, then 2.4.2 released on blue.
      expect(await w.command('U0DEV1', '/sync', 'api')).toContain('Syncing');
      await eventually(
        () => channelText(w, 'C0RELEASES').includes('STANDBY (blue) of api is in sync'),
        Boolean,
      );
      const rel2 = (await bumpAndRequestRelease(w, '2.4.2')).id;
      await w.click('U0LEAD', 'release_approve', rel2);
      await trafficAllOn(w, 'blue');
      await releaseReaches(w, rel2, 'released');

      // The old "Approve rollback" button of 2.4.1 is clicked now.
      const runsBefore = (await api(w).deployRuns()).length;
      const answer = await w.click('U0LEAD', 'release_rollback_approve', rel1);
      // A redeploy or rollback the click set off would be a queued step: once none is left, it has
      // run (or never existed).
      await stepsSettled(w);
      expect(await trafficSplit(front(w))).toEqual({ blue: 10 });
      expect(await api(w).deployRuns()).toHaveLength(runsBefore);
      expect(await reportedVersion(api(w).blue.url)).toBe('2.4.2');
      expect(await w.redis.redis.hget(`{${w.redis.keyPrefix}}:faulty:api`, '2.4.1')).toBeNull();
      expect(await releaseState(w, rel2)).toBe('released');
      expect(answer).not.toContain('Rollback approved');
      expect(answer).toContain(REFUSED);
    });

    // Defect 8: the dry run re-implemented the rules and refused during a canary, which the real
    // command handles.
    it(
      '8. /rollback --dry-run agrees with /rollback during a canary',
      IN_TURN,
      async ({ expect, onTestFinished }) => {
        const s = scope(onTestFinished);
        const w = await s.open({ strategy: 'canary', serviceExtra: HOLDING_CANARY });
        s.load = loadLoop(front(w), 2, 20);
        const { id } = await bumpAndRequestRelease(w, '2.4.1');
        await w.click('U0LEAD', 'release_approve', id);
        await releaseReaches(w, id, 'ramping');

        const plan = await w.command('U0LEAD', '/rollback', 'api --dry-run');
        expect(plan).not.toContain('Would be refused');
        expect(plan).toContain('2.4.0');
        expect(plan).toContain('blue');
        expect(await releaseState(w, id)).toBe('ramping');

        const answer = await w.command('U0LEAD', '/rollback', 'api canary looks wrong');
        expect(answer).not.toContain(REFUSED);
        await trafficAllOn(w, 'blue');
        await releaseReaches(w, id, 'rolled_back');
      },
    );

    // Defect 4: /rollback was refused as busy while a /bump or /sync ran.
    it('4. /rollback during a /bump preempts it', IN_TURN, async ({ expect, onTestFinished }) => {
      const s = scope(onTestFinished);
      const w = await s.open({});
      const id = await releaseToGreen(w);

      // A /bump of 2.4.2 hangs on blue, the slot /rollback must go back to.
      await api(w).setDeployMode('hang');
      expect(await w.command('U0DEV1', '/bump', 'api')).toContain('Deploying api 2.4.2');
      const bump = await deployRunOf(w, '2.4.2');
      await api(w).setDeployMode('ok');

      const answer = await w.command('U0LEAD', '/rollback', 'api checkout is failing');
      expect(answer).not.toContain(REFUSED);
      await eventually(
        () => alive(bump.pid),
        (running) => !running,
        15_000,
      );
      await trafficAllOn(w, 'blue', 25_000);
      expect(await reportedVersion(api(w).blue.url)).toBe('2.4.0');
      await releaseReaches(w, id, 'rolled_back');
      // The alert travels through the outbox: it can reach Slack after the state is written.
      await expect
        .poll(() => channelText(w, 'C0ALERTS'), { timeout: 20_000 })
        .toContain('[ROLLBACK]');
    });
  });
});
