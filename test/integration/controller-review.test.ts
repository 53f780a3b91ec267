import { readFileSync } from 'node:fs';
import { describe, it, type onTestFinished } from 'vitest';
import { type RunningGreenlight, startGreenlight } from '../../testkit/greenlight-process.ts';
import { freePort } from '../../testkit/ports.ts';
import {
  bumpAndRequestRelease,
  eventually,
  loadLoop,
  type ReleaseWorld,
  startReleaseWorld,
  trafficSplit,
  type WorldOptions,
} from '../../testkit/release-world.ts';
import {
  IN_TURN,
  LANE,
  passesSince,
  pendingSteps,
  stepsSettled,
  withStepsQueue,
} from '../support/step-queue.ts';
import {
  alive,
  api,
  channelText,
  front,
  isThisFilesDeploy,
  REFUSED,
  releaseKey,
  releaseReaches,
  releaseRecord,
  releaseState,
  releaseToGreen,
  serviceKey,
  serviceRecord,
  sleep,
  textOf,
  trafficAllOn,
} from '../support/world-inspection.ts';

/**
 * Review of the release controller: interleavings where a core could break the control-loop
 * promises the README states (desired traffic derived, one mover of traffic, deadlines, data loss
 * never moves traffic). Each test asserts what is promised; a failing test is a defect.
 */

const LENIENT = `    analysis: { source: haproxy, maxErrorRatePercent: 50, maxP99Ms: 5000, minRequests: 0, intervalSeconds: 1 }
`;
const canary = (steps: string) => `    canary: { steps: ${steps}, holdMinutes: 10 }
${LENIENT}`;

/**
 * What one test started, ended when it finishes (passed or not): its world, its load loop, an
 * extra Greenlight and any process it stopped with SIGSTOP. Per test, not per file: the lanes
 * below run side by side.
 */
interface Scope {
  open(options: WorldOptions): Promise<ReleaseWorld>;
  load?: ReturnType<typeof loadLoop>;
  extra?: RunningGreenlight;
  readonly stopped: number[];
}

function scope(finished: typeof onTestFinished): Scope {
  let world: ReleaseWorld | undefined;
  const s: Scope = {
    async open(options) {
      world = await startReleaseWorld(options);
      return world;
    },
    stopped: [],
  };
  finished(async () => {
    await s.load?.stop();
    for (const pid of s.stopped.splice(0)) {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        // gone
      }
    }
    await s.extra?.stop('SIGKILL');
    if (world === undefined) return;
    for (const service of Object.values(world.services)) {
      for (const line of await service.deployRuns()) {
        const pid = Number(line.split(' ')[2]);
        if (alive(pid) && isThisFilesDeploy(pid)) process.kill(pid, 'SIGKILL');
      }
    }
    await withStepsQueue(world, (q) => q.resume()).catch(() => undefined);
    await world.close();
  });
  return s;
}

/**
 * Requests through HAProxy, counted by the version that answered: for `ms`, or until `done`
 * (asked every quarter second) says the behaviour under watch has had its chance to happen.
 */
async function watchVersions(
  w: ReleaseWorld,
  until: number | (() => Promise<boolean>),
): Promise<Record<string, number>> {
  const seen: Record<string, number> = {};
  const sample = async () => {
    const res = await fetch(front(w));
    const key =
      res.status === 200
        ? ((await res.json()) as { version: string }).version
        : `http ${res.status}`;
    if (res.status !== 200) await res.arrayBuffer();
    seen[key] = (seen[key] ?? 0) + 1;
    await sleep(20);
  };
  const end = typeof until === 'number' ? Date.now() + until : Number.POSITIVE_INFINITY;
  let asked = 0;
  while (Date.now() < end) {
    await sample();
    if (typeof until !== 'number' && Date.now() - asked >= 250) {
      asked = Date.now();
      if (await until()) break;
    }
  }
  // After the behaviour settled, a last look: a move made just before the check said so is
  // still seen, not left between two samples.
  if (typeof until !== 'number') for (let i = 0; i < 10; i += 1) await sample();
  return seen;
}

/**
 * Waits until the release's card shows the buttons of its first canary step (Promote among
 * them): a person clicks the Promote they see, and the outbox may lag the state on a busy machine.
 */
const promoteShown = (w: ReleaseWorld, id: string) =>
  eventually(
    () =>
      w.slack
        .messages('C0RELEASES')
        .some(
          (m) =>
            m.thread_ts === undefined &&
            JSON.stringify(m.blocks).includes(`"value":"${id}:ramping.0"`),
        ),
    Boolean,
    20_000,
  );

// Every test has a world of its own (slot servers, HAProxy, a Redis key prefix, Greenlight) and
// cleans it up itself, so tests share nothing: three lanes run side by side, each running its
// tests one after another (at most three worlds at once, on a 2-core machine beside other files).

describe('controller review: interleavings found by an adversarial review', () => {
  describe('lane 1', LANE, () => {
    // The deploy lock and BullMQ's job lock are both leases renewed by the holder's event loop;
    // the deploy's process group dies only when the holder's pipe closes. A holder that stalls
    // (SIGSTOP, a VM pause, a long GC) loses both leases while its deploy keeps running: the
    // second process re-runs the stalled step and deploys beside it.
    it(
      'K. a stalled worker never has its deploy re-run beside it by a second process',
      IN_TURN,
      async ({ expect, onTestFinished }) => {
        const s = scope(onTestFinished);
        const w = await s.open({ env: { GREENLIGHT_STALLED_INTERVAL_MS: '2000' } });
        const extra = await startGreenlight({
          ...w.env,
          GREENLIGHT_STALLED_INTERVAL_MS: '2000',
          PORT: String(await freePort()),
        });
        s.extra = extra;
        await api(w).setDeployMode('hang');
        expect(await w.command('U0DEV1', '/bump', 'api')).toContain('Deploying api 2.4.1');
        const line = await eventually(
          async () => (await api(w).deployRuns())[0],
          (l) => l !== undefined,
        );
        const deployPid = Number(line?.split(' ')[2]);
        const ppid = (pid: number) => {
          const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
          return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        };
        const owner = ppid(ppid(deployPid));
        expect([w.app.child.pid, extra.child.pid]).toContain(owner);
        process.kill(owner, 'SIGSTOP');
        s.stopped.push(owner);
        const seen = await eventually(
          async () => ({ runs: (await api(w).deployRuns()).length, first: alive(deployPid) }),
          (s) => s.runs >= 2,
          20_000,
          100,
        ).catch(async () => ({
          runs: (await api(w).deployRuns()).length,
          first: alive(deployPid),
        }));
        expect(seen.runs >= 2 && seen.first, JSON.stringify(seen)).toBe(false);
      },
    );

    // Buttons carry only the release id: a second Promote drawn for the same step (a double
    // click, two approvers, a re-delivery) promotes again and skips a whole hold.
    it(
      'A. a duplicate Promote drawn for one step promotes only once',
      IN_TURN,
      async ({ expect, onTestFinished }) => {
        const s = scope(onTestFinished);
        const w = await s.open({ strategy: 'canary', serviceExtra: canary('[20, 50, 100]') });
        s.load = loadLoop(front(w), 2, 20);
        const { id } = await bumpAndRequestRelease(w, '2.4.1');
        await w.click('U0LEAD', 'release_approve', id);
        await releaseReaches(w, id, 'ramping');
        // A person clicks the Promote they see: wait until the card shows it (the outbox may lag).
        await promoteShown(w, id);
        // Both clicks come from the message as drawn at 20 % ("Promote to 50 %").
        const answers = await Promise.all([
          w.click('U0LEAD', 'release_promote', id),
          w.click('U0LEAD', 'release_promote', id),
        ]);
        // Whatever either click queued has run (a second promotion would have by now), and the
        // accepted Promote's switch step is not still moving traffic (`switching`) on a busy
        // machine: read the record then.
        await stepsSettled(w);
        const record = await eventually(
          () => releaseRecord(w, id),
          (r) => r?.state !== 'switching',
          20_000,
        );
        expect(
          {
            state: record?.state,
            step: (record?.canary as { stepIndex: number } | undefined)?.stepIndex,
          },
          `answers: ${answers.join(' | ')}`,
        ).toEqual({ state: 'ramping', step: 1 });
        expect(answers.filter((a) => a.includes(REFUSED))).toHaveLength(1);
      },
    );

    // Adoption names the slot with the larger share PRODUCTION, blue on a tie: at a 50 % step of
    // a canary that goes green → blue, the canary becomes PRODUCTION, and a failed promote then
    // "restores" all traffic onto it.
    it(
      'D. a lost service key at a 50 % canary step keeps PRODUCTION where it was',
      IN_TURN,
      async ({ expect, onTestFinished }) => {
        const s = scope(onTestFinished);
        const w = await s.open({
          strategy: 'canary',
          serviceExtra: canary('[50, 100]'),
          env: { GREENLIGHT_RECONCILE_INTERVAL_SECONDS: '1' },
        });
        s.load = loadLoop(front(w), 2, 20);
        const first = await bumpAndRequestRelease(w, '2.4.1');
        await w.click('U0LEAD', 'release_approve', first.id);
        await releaseReaches(w, first.id, 'ramping');
        await promoteShown(w, first.id);
        await w.click('U0LEAD', 'release_promote', first.id);
        await releaseReaches(w, first.id, 'released');
        await trafficAllOn(w, 'green');

        const second = await bumpAndRequestRelease(w, '2.4.2');
        await w.click('U0LEAD', 'release_approve', second.id);
        await releaseReaches(w, second.id, 'ramping');

        await w.redis.redis.del(serviceKey(w));
        const adopted = await eventually(
          () => serviceRecord(w),
          (s) => s !== null,
        );
        // Blue (the canary) is changed by hand; the promote's switch step notices and fails.
        api(w).blue.set({ version: '2.4.9' });
        await promoteShown(w, second.id);
        await w.click('U0LEAD', 'release_promote', second.id);
        await releaseReaches(w, second.id, 'failed');
        // `failed` is written first; the traffic step it queues then restores PRODUCTION. Wait for
        // the traffic to settle on one slot (whichever: the check below says which it must be).
        await eventually(
          () => trafficSplit(front(w)),
          (split) => split.green === 10 || split.blue === 10,
          20_000,
          200,
        ).catch(() => undefined);
        const seen = await watchVersions(w, 2000);
        expect({ production: adopted?.production, seen }).toEqual({
          production: 'green',
          seen: { '2.4.1': expect.any(Number) },
        });
      },
    );

    // The sweeper runs only inside the periodic `reconcile` job, whose schedule is upserted once,
    // at start-up. Delete that schedule (a deleted job, a flushed queue key) and nothing re-derives
    // anything any more: a /bump whose deploy job is lost holds the service until a restart.
    it(
      'I. a deleted reconcile schedule does not stop the sweeper',
      IN_TURN,
      async ({ expect, onTestFinished }) => {
        const s = scope(onTestFinished);
        const w = await s.open({
          deployTimeoutSeconds: 5,
          env: { GREENLIGHT_RECONCILE_INTERVAL_SECONDS: '1' },
        });
        const removed = await withStepsQueue(w, async (q) => {
          await q.pause();
          if (process.env.REVIEW_CONTROL !== '1') await q.removeJobScheduler('reconcile');
          const names: string[] = [];
          try {
            expect(await w.command('U0DEV1', '/bump', 'api')).toContain('Deploying api 2.4.1');
            for (const job of await q.getJobs(['waiting', 'delayed', 'prioritized']))
              if (
                job.name === 'deploy' ||
                (job.name === 'reconcile' && process.env.REVIEW_CONTROL !== '1')
              ) {
                try {
                  await job.remove();
                  names.push(job.name);
                } catch (error) {
                  // Greenlight put the schedule back meanwhile (what this test is about), and
                  // BullMQ refuses to remove a scheduler's job directly: the deploy job must go.
                  if (job.name === 'deploy' || !/belongs to a job scheduler/.test(String(error)))
                    throw error;
                }
              }
          } finally {
            await q.resume();
          }
          return names;
        });
        expect(removed).toContain('deploy');
        const done = await eventually(
          async () =>
            ((await serviceRecord(w)) as { operation: unknown } | null)?.operation === null,
          Boolean,
          20_000,
          500,
        ).catch(() => false);
        expect(done, 'the /bump still holds api after 20 s').toBe(true);
      },
    );
  });

  describe('lane 2', LANE, () => {
    // startAnalysis leaves a schedule alone when it exists, but a schedule only makes its next
    // job when the current one runs: with that one job gone, the schedule is alive and idle, the
    // sweeper sees it and does nothing, and `observing` (which has no deadline) lasts forever.
    it(
      'J. an observing release whose next analysis job vanished still finishes',
      IN_TURN,
      async ({ expect, onTestFinished }) => {
        const s = scope(onTestFinished);
        const w = await s.open({
          stabilityWindowMinutes: 0.1,
          serviceExtra: LENIENT,
          env: { GREENLIGHT_RECONCILE_INTERVAL_SECONDS: '1' },
        });
        s.load = loadLoop(front(w), 2, 20);
        const { id } = await bumpAndRequestRelease(w, '2.4.1');
        await w.click('U0LEAD', 'release_approve', id);
        await releaseReaches(w, id, 'observing');
        const gone = await withStepsQueue(w, async (q) => {
          const prefix = `{${w.redis.keyPrefix}}:steps`;
          for (let i = 0; i < 50; i += 1) {
            const delayed = (await q.getJobs(['delayed'])).filter(
              (j) => j.name === 'analyze' && (j.data as { releaseId?: string }).releaseId === id,
            );
            const job = delayed[0];
            if (job?.id !== undefined) {
              await w.redis.redis.zrem(`${prefix}:delayed`, job.id);
              await w.redis.redis.del(`${prefix}:${job.id}`);
              return job.id;
            }
            await sleep(50);
          }
          return undefined;
        });
        expect(gone).toBeDefined();
        await releaseReaches(w, id, 'released', 25_000);
      },
    );

    // The Rollback button stays on every released message, and a click runs /rollback for the
    // service: the button of an older release rolls back whatever release is live now.
    it(
      'B. the Rollback button of an older release never rolls back the live one',
      IN_TURN,
      async ({ expect, onTestFinished }) => {
        const s = scope(onTestFinished);
        const w = await s.open({});
        const rel1 = await releaseToGreen(w);
        const { id: rel2 } = await bumpAndRequestRelease(w, '2.4.2');
        await w.click('U0LEAD', 'release_approve', rel2);
        await trafficAllOn(w, 'blue');
        await releaseReaches(w, rel2, 'released');
        const oldMessage = w.slack
          .messages('C0RELEASES')
          .find((m) => m.thread_ts === undefined && JSON.stringify(m.blocks).includes(rel1));
        expect(textOf(oldMessage)).toContain('release_rollback');

        const answer = await w.click('U0LEAD', 'release_rollback', rel1);
        // A rollback the click set off would be a queued step: once none is left, it has moved
        // traffic or never existed.
        await stepsSettled(w);
        expect({
          rel2: await releaseState(w, rel2),
          traffic: await trafficSplit(front(w)),
          answer,
        }).toEqual({
          rel2: 'released',
          traffic: { blue: 10 },
          answer: expect.stringContaining(REFUSED),
        });
      },
    );

    // In `switching` desired traffic is already the new slot, so any reconcile that runs before
    // the switch step (start-up, the periodic pass) moves traffic without the STANDBY check that
    // approvals depend on: a version nobody approved serves production.
    it(
      'E. no reconcile moves traffic to STANDBY before the switch step checked it',
      IN_TURN,
      async ({ expect, onTestFinished }) => {
        const s = scope(onTestFinished);
        const w = await s.open({ env: { GREENLIGHT_RECONCILE_INTERVAL_SECONDS: '3600' } });
        const { id } = await bumpAndRequestRelease(w, '2.4.1');
        // The switch job is queued but no worker has taken it yet.
        await withStepsQueue(w, (q) => q.pause());
        await w.click('U0LEAD', 'release_approve', id);
        await releaseReaches(w, id, 'switching');
        // Meanwhile STANDBY changes under the approval, and Greenlight restarts.
        api(w).green.set({ version: '2.4.9' });
        await w.restart();
        // Greenlight answers (and restart() returns) only after its start-up pass of the control loop;
        // with the queue paused and the periodic pass an hour away, nothing else could move traffic:
        // a second of requests shows what that pass left.
        const seen = await watchVersions(w, 1000);
        await withStepsQueue(w, (q) => q.resume());
        expect(
          seen,
          w.app.output.filter((l) => /reconcil|sweep|switch/i.test(l)).join('\n'),
        ).toEqual({
          '2.4.0': expect.any(Number),
        });
      },
    );

    // Held up: a double Approve and a re-delivered switch job move traffic exactly once.
    it(
      'held: double Approve and a re-delivered switch job switch traffic once',
      IN_TURN,
      async ({ expect, onTestFinished }) => {
        const s = scope(onTestFinished);
        const w = await s.open({});
        const { id } = await bumpAndRequestRelease(w, '2.4.1');
        const answers = await Promise.all([
          w.click('U0LEAD', 'release_approve', id),
          w.click('U0LEAD', 'release_approve', id),
        ]);
        await trafficAllOn(w, 'green');
        await releaseReaches(w, id, 'released');
        const record = await releaseRecord(w, id);
        await withStepsQueue(w, async (q) => {
          const redelivered = [
            await q.add('switch', {
              v: 1,
              releaseId: id,
              revision: (record?.revision as number) - 1,
            }),
            await q.add('switch', { v: 1, releaseId: id }),
          ];
          // "Switched once" holds only once both re-deliveries have run: wait for them to end.
          await eventually(
            () => Promise.all(redelivered.map((job) => job.getState())),
            (states) => states.every((s) => ['completed', 'failed', 'unknown'].includes(s)),
            20_000,
          );
        });
        const audit = await w.redis.redis.xrange(`{${w.redis.keyPrefix}}:audit`, '-', '+');
        const sets = audit
          .map(
            ([, fields]) => JSON.parse(fields[1] ?? '{}') as { what?: string; releaseId?: string },
          )
          .filter((e) => e.what === 'traffic set' && e.releaseId === id);
        expect(answers.filter((a) => a.includes(REFUSED))).toHaveLength(1);
        expect(sets).toHaveLength(1);
        expect(await trafficSplit(front(w))).toEqual({ green: 10 });
      },
    );
  });

  describe('lane 3', LANE, () => {
    // Adoption happens only when the key is gone: a record older than the proxy (Redis restarted
    // from an earlier snapshot) is taken as the truth and the reconciler moves production back.
    it(
      'C. a Redis record older than the proxy never moves traffic',
      IN_TURN,
      async ({ expect, onTestFinished }) => {
        const s = scope(onTestFinished);
        const w = await s.open({ env: { GREENLIGHT_RECONCILE_INTERVAL_SECONDS: '1' } });
        const { id } = await bumpAndRequestRelease(w, '2.4.1');
        const redis = w.redis.redis;
        const snapshot = {
          service: await redis.dumpBuffer(serviceKey(w)),
          release: await redis.dumpBuffer(releaseKey(w, id)),
        };
        await w.click('U0LEAD', 'release_approve', id);
        await trafficAllOn(w, 'green');
        await releaseReaches(w, id, 'released');

        // Redis comes back from the snapshot it took before the approval.
        await redis.restore(serviceKey(w), 0, snapshot.service as Buffer, 'REPLACE');
        await redis.restore(releaseKey(w, id), 0, snapshot.release as Buffer, 'REPLACE');
        const restoredAt = Date.now();
        // Each pass of the control loop (every second here) sees the restored record: watch
        // until three passes that began after the restore have ended.
        const seen = await withStepsQueue(w, (q) =>
          watchVersions(w, async () => (await passesSince(q, restoredAt)) >= 3),
        );
        expect(seen, channelText(w, 'C0RELEASES').slice(-600)).toEqual({
          '2.4.1': expect.any(Number),
        });
      },
    );

    // The rollback takes the switch path whenever Redis says the old slot runs the last good
    // version; it never asks the slot. A slot changed outside Greenlight gets production traffic.
    it(
      'H. /rollback checks what the old slot really runs before sending traffic to it',
      IN_TURN,
      async ({ expect, onTestFinished }) => {
        const s = scope(onTestFinished);
        const w = await s.open({});
        const live = await releaseToGreen(w);
        // Blue (STANDBY, the rollback target) was redeployed by hand, or restarted on another image.
        api(w).blue.set({ version: '2.3.7' });
        expect(await w.command('U0LEAD', '/rollback', 'api checkout is failing')).not.toContain(
          REFUSED,
        );
        // Only the rollback's steps move traffic here (the periodic pass is a minute away): watch
        // until the release no longer rolls back and none of its steps is queued or running.
        const seen = await withStepsQueue(w, (q) =>
          watchVersions(
            w,
            async () =>
              (await releaseState(w, live)) !== 'rolling_back' &&
              (await pendingSteps(q)).length === 0,
          ),
        );
        expect(seen['2.3.7'] ?? 0, JSON.stringify(seen)).toBe(0);
      },
    );

    // /rollback with a newer release pending only cancels that release; the live release it
    // was meant for can then never be rolled back ("nothing to roll back").
    it(
      'G. /rollback reaches the live release when a newer one awaits approval',
      IN_TURN,
      async ({ expect, onTestFinished }) => {
        const s = scope(onTestFinished);
        const w = await s.open({});
        const live = await releaseToGreen(w);
        await bumpAndRequestRelease(w, '2.4.2');
        // 2.4.1 turns out broken in production.
        const first = await w.command('U0LEAD', '/rollback', 'api checkout is failing');
        const second = await w.command('U0LEAD', '/rollback', 'api checkout is failing');
        // The rollback moves traffic through a queued step: wait for it to finish (or time out, and
        // show what was there then).
        const outcome = async () => ({
          answers: [first, second].filter((a) => a.includes(REFUSED)),
          live: await releaseState(w, live),
          traffic: await trafficSplit(front(w)),
        });
        const expected = { answers: [], live: 'rolled_back', traffic: { blue: 10 } };
        const settled = await eventually(
          outcome,
          (o) => o.live === 'rolled_back' && o.traffic.blue === 10,
          20_000,
          200,
        ).catch(outcome);
        expect(settled).toEqual(expected);
      },
    );

    // On SIGTERM the workers are force-closed after half the shutdown bound and every deploy is
    // killed; the step is still running in-process, so it records the kill as the deploy's failure.
    // The re-run elsewhere then finds nothing to do: a routine restart fails the user's /bump.
    it(
      'F. a graceful restart during a /bump does not fail the bump',
      IN_TURN,
      async ({ expect, onTestFinished }) => {
        const s = scope(onTestFinished);
        const w = await s.open({
          env: { GREENLIGHT_SHUTDOWN_TIMEOUT_MS: '2000', GREENLIGHT_STALLED_INTERVAL_MS: '2000' },
        });
        await api(w).setDeployMode('hang');
        expect(await w.command('U0DEV1', '/bump', 'api')).toContain('Deploying api 2.4.1');
        await eventually(
          () => api(w).deployRuns(),
          (runs) => runs.length >= 1,
        );
        await api(w).setDeployMode('ok');
        await w.restart();
        const green = await eventually(
          async () =>
            ((await serviceRecord(w))?.slots as Record<string, { health: string }> | undefined)
              ?.green,
          (slot) => slot !== undefined && slot.health !== 'deploying',
          30_000,
          200,
        );
        expect(green, channelText(w, 'C0RELEASES').slice(-400)).toMatchObject({
          version: '2.4.1',
          health: 'healthy',
        });
      },
    );
  });
});
