import { describe, expect, it } from 'vitest';
import type { AppDeps } from '../../../src/app/app-deps.ts';
import type { Lease } from '../../../src/app/ports.ts';
import { analysisLockMs, runAnalyzeStep } from '../../../src/app/use-cases/progressive.ts';
import type { Release } from '../../../src/domain/release.ts';
import { apiConfig } from '../../../testkit/api-config.ts';
import { apiWorld } from '../../../testkit/api-world.ts';
import {
  analysedRelease,
  type Script,
  scriptedMetrics,
} from '../../../testkit/scripted-analysis.ts';

/**
 * Issue 13: what the analysis does with its verdicts, on in-memory ports with a clock the test
 * moves one interval at a time. Each case scripts what the metrics source counts on the canary
 * (green) and the baseline (blue), and asserts what a person would see: the release's state,
 * its timeline and the buttons it asks for.
 */
const START = Date.parse('2026-11-24T10:00:00.000Z');

const config = (extra: string, strategy = 'canary') =>
  apiConfig({
    strategy,
    deploy: '{ command: ["./deploy.sh"], timeoutSeconds: 120 }',
    api: `    canary: { steps: [20, 100], holdMinutes: 5, autoPromote: false }
    stabilityWindowMinutes: 10
    analysis: { source: haproxy, intervalSeconds: 60${extra} }`,
  });

/** Rates as whole counts per 60 s interval: `rps` requests per second split by the canary weight. */
const traffic =
  (rps: number, canaryWeight: number, canaryErrors: number, baselineErrors: number): Script =>
  (slot) => {
    const requests = Math.round(rps * 60 * (slot === 'green' ? canaryWeight : 1 - canaryWeight));
    return {
      requests,
      errors: Math.round(requests * (slot === 'green' ? canaryErrors : baselineErrors)),
    };
  };

function setUp(
  script: Script,
  options: { extra?: string; strategy?: string; release?: Partial<Release> } = {},
) {
  const strategy = (options.strategy ?? 'canary') as Release['strategy'];
  const w = apiWorld(config(options.extra ?? '', options.strategy), new Date(START), {
    production: strategy === 'bluegreen' ? 'green' : 'blue',
  });
  let now = START;
  let tick = 0;
  const iso = new Date(START).toISOString();
  w.releases.set('rel-1', analysedRelease(iso, strategy, [20, 100], options.release));
  const deps: AppDeps = {
    ...w.deps,
    clock: { now: () => new Date(now) },
    metrics: scriptedMetrics(
      () => script,
      () => tick,
    ),
  };
  const release = () => w.releases.get('rel-1') as Release;
  return {
    w,
    deps,
    release,
    timeline: () =>
      release()
        .timeline.map((e) => e.what)
        .join('\n'),
    /** One interval later, one analysis tick; returns the release after it. */
    async tick(times = 1) {
      for (let i = 0; i < times; i += 1) {
        tick += 1;
        now += 60_000;
        await runAnalyzeStep(deps, { releaseId: 'rel-1' });
      }
      return release();
    },
  };
}

describe('canary judgement: what each verdict does (issue 13)', () => {
  it('a 2 % vs 0.1 % regression at 20 % weight and 20 requests/s rolls back within two intervals', async () => {
    const t = setUp(traffic(20, 0.2, 0.02, 0.001));
    await t.tick(); // the first tick only samples
    let ticks = 0;
    while (t.release().state === 'ramping' && ticks < 2) {
      await t.tick();
      ticks += 1;
    }
    expect(t.release().state).toBe('rolling_back');
    expect(t.release().rollback?.reason).toMatch(/errors \d+ of [\d,]+ .* vs baseline/);
  });

  it('a first tick whose reads both fail (HAProxy reloading) still lets the next ticks judge and roll back', async () => {
    const regression = traffic(20, 0.2, 0.02, 0.001);
    const t = setUp((slot, tick) =>
      tick === 1 ? new Error('connect ECONNREFUSED') : regression(slot, tick),
    );
    await t.tick(); // no sample for either slot: the record keeps that, and stays readable
    expect(t.release().state).toBe('ramping');
    for (let i = 0; i < 4 && t.release().state === 'ramping'; i += 1) await t.tick();
    expect(t.release().state).toBe('rolling_back');
    expect(t.release().rollback?.reason).toMatch(/errors \d+ of [\d,]+ .* vs baseline/);
  });

  it('a canary at 0.4 % against a 0.01 % baseline never passes (under the 0.5 % ceiling) and rolls back', async () => {
    // 240 canary requests per interval with one error; the baseline's 960 requests, 0.1 error.
    const t = setUp((slot, tick) =>
      slot === 'green'
        ? { requests: 240, errors: 1 }
        : { requests: 960, errors: tick % 10 === 0 ? 1 : 0 },
    );
    await t.tick();
    const seen: string[] = [];
    for (let i = 0; i < 30 && t.release().state === 'ramping'; i += 1) {
      await t.tick();
      seen.push(t.release().analysis?.lastVerdict ?? '');
    }
    expect(seen).not.toContain('pass');
    expect(t.release().state).toBe('rolling_back');
  });

  it('a healthy canary with equal rates and plenty of traffic passes its hold and asks for a plain Promote', async () => {
    const t = setUp(traffic(50, 0.2, 0.001, 0.001), { extra: ', errorRateFloorPercent: 1' });
    await t.tick(6);
    const r = t.release();
    expect(r.state).toBe('ramping');
    expect(r.canary?.awaitingPromotion).toBe(true);
    expect(r.canary?.withoutEvidence).toBeUndefined();
    expect(t.timeline()).toContain('hold at 20 % passed');
  });

  it('a silent canary holds past its hold time without promoting, asks for Promote anyway, and records who promoted without evidence', async () => {
    const t = setUp(() => ({ requests: 0, errors: 0 }), { extra: ', maxFailedReads: 3' });
    await t.tick(8);
    const r = t.release();
    expect(r.state).toBe('ramping');
    expect(r.canary?.stepIndex).toBe(0);
    expect(r.paused).toBeUndefined();
    expect(r.canary?.awaitingPromotion).toBe(true);
    expect(r.canary?.withoutEvidence).toMatch(/no canary requests yet|more canary requests/);
    expect(t.timeline()).toContain('ended without evidence');
    const { runEvent } = await import('../../../src/app/release-runner.ts');
    await runEvent(t.w.deps, 'rel-1', { type: 'promote', user: 'U0LEAD', fromStep: 0 });
    expect(t.timeline()).toMatch(/promoted anyway, without evidence \(.+\) to 100 %/);
    expect(t.release().timeline.at(-1)?.who).toBe('U0LEAD');
  });

  it('evidence that arrives while Promote anyway is asked for turns it into a plain Promote', async () => {
    let busy = false;
    const t = setUp(
      (slot, tick) =>
        busy ? traffic(50, 0.2, 0.001, 0.001)(slot, tick) : { requests: 0, errors: 0 },
      { extra: ', errorRateFloorPercent: 1' },
    );
    await t.tick(7);
    expect(t.release().canary?.withoutEvidence).toBeDefined();
    busy = true;
    await t.tick(6);
    expect(t.release().canary?.awaitingPromotion).toBe(true);
    expect(t.release().canary?.withoutEvidence).toBeUndefined();
  });

  it('reads that fail or come back empty pause the release after maxFailedReads and say so; never a pass', async () => {
    const t = setUp(() => new Error('no data: requestsQuery returned nothing for green'), {
      extra: ', maxFailedReads: 3',
    });
    await t.tick(); // sampling
    await t.tick(2);
    expect(t.release().paused).toBeUndefined();
    expect(t.release().analysis?.lastVerdict).toBe('no_data');
    await t.tick();
    expect(t.release().paused?.reason).toContain('no metrics for 3 readings in a row');
    expect(t.release().paused?.reason).toContain('requestsQuery returned nothing');
    await t.tick(10);
    expect(t.release().canary?.stepIndex).toBe(0);
    expect(t.release().canary?.awaitingPromotion).toBeFalsy();
  });

  it('shadow mode judges a failing canary, says it would roll back, and does not act', async () => {
    const t = setUp(traffic(20, 0.2, 0.3, 0.001), { extra: ', dryRun: true' });
    await t.tick(4);
    expect(t.release().state).toBe('ramping');
    expect(t.release().analysis?.lastVerdict).toMatch(/fail|breach/);
    expect(t.release().analysis?.shadow).toBe(true);
    expect(t.timeline()).toContain('shadow analysis would roll back');
    expect(t.timeline().match(/shadow analysis would roll back/g)).toHaveLength(1);
  });

  it('a quiet blue/green stability window ends released, with "not enough traffic to judge" recorded', async () => {
    const t = setUp(
      (slot) => (slot === 'green' ? { requests: 3, errors: 0 } : { requests: 0, errors: 0 }),
      { strategy: 'bluegreen' },
    );
    await t.tick(12);
    expect(t.release().state).toBe('released');
    expect(t.timeline()).toContain('not enough traffic to judge: 27 requests'); // 9 judged intervals × 3;
  });

  it('with whenInconclusive: rollback, the same quiet window rolls back instead', async () => {
    const t = setUp(
      (slot) => (slot === 'green' ? { requests: 3, errors: 0 } : { requests: 0, errors: 0 }),
      { strategy: 'bluegreen', extra: ', whenInconclusive: rollback' },
    );
    await t.tick(12);
    expect(t.release().state).toBe('rolling_back');
    expect(t.release().rollback?.reason).toContain('not enough traffic to judge');
  });

  it('a busy healthy blue/green window passes on evidence and is released without a caveat', async () => {
    const t = setUp(
      (slot) => (slot === 'green' ? { requests: 3000, errors: 0 } : { requests: 0, errors: 0 }),
      { strategy: 'bluegreen' },
    );
    await t.tick(12);
    expect(t.release().state).toBe('released');
    expect(t.timeline()).not.toContain('not enough traffic');
  });
});

describe('a worker killed in the middle of a tick', () => {
  it('holds the analysis back for at most two intervals (5 to 30 s), not a fixed 30 s', async () => {
    // The lock a dead worker held expires after its TTL; until then every tick reads nothing.
    // A 1 s interval (as in the soak) must not leave a stability window 30 s past its end.
    expect(analysisLockMs(1)).toBe(5_000);
    expect(analysisLockMs(10)).toBe(20_000);
    expect(analysisLockMs(60)).toBe(30_000);
    const t = setUp(traffic(20, 0.2, 0.001, 0.001));
    const asked: number[] = [];
    const locks = t.w.deps.locks;
    Object.assign(t.w.deps, {
      locks: {
        withLock: (
          name: string,
          ttl: number,
          fn: (lease: Lease) => Promise<unknown>,
          o?: unknown,
        ) => {
          asked.push(ttl);
          return locks.withLock(name, ttl, fn, o as never);
        },
      },
    });
    await runAnalyzeStep(t.w.deps, { releaseId: 'rel-1', everyMs: 60_000 });
    expect(asked).toEqual([30_000]); // this service reads every 60 s
  });
});

describe('two ticks that overlap (a lock that lapsed while its holder stalled)', () => {
  it('judge one interval once: a single slow interval is one breach, not two, and rolls nothing back', async () => {
    // Every interval is over the 10 ms mean ceiling; two breaches in a row roll back.
    const t = setUp(traffic(20, 0.2, 0.001, 0.001), { extra: ', maxMeanMs: 10' });
    await t.tick(); // samples
    // The in-memory lock never refuses, as a lapsed Redis lock would not: both ticks read the
    // same release and the same samples before either writes.
    let waiting: (() => void)[] = [];
    const metrics = t.deps.metrics;
    const deps: AppDeps = {
      ...t.deps,
      metrics: {
        read: async (...args) => {
          if (args[1] === 'green') {
            await new Promise<void>((resolve) => {
              waiting.push(resolve);
              if (waiting.length === 2) {
                for (const go of waiting) go();
                waiting = [];
              }
            });
          }
          return metrics.read(...args);
        },
      },
    };
    await Promise.all([
      runAnalyzeStep(deps, { releaseId: 'rel-1' }),
      runAnalyzeStep(deps, { releaseId: 'rel-1' }),
    ]);
    expect(t.release().analysis?.breaches).toBe(1);
    expect(t.release().analysis?.checks).toBe(1);
    expect(t.release().state).toBe('ramping');
  });
});
