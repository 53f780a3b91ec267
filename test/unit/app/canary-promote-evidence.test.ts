import { describe, expect, it } from 'vitest';
import type { AppDeps } from '../../../src/app/app-deps.ts';
import { runEvent } from '../../../src/app/release-runner.ts';
import { runAnalyzeStep } from '../../../src/app/use-cases/progressive.ts';
import type { Release } from '../../../src/domain/release.ts';
import { transition } from '../../../src/domain/release-machine.ts';
import { apiConfig } from '../../../testkit/api-config.ts';
import { apiWorld } from '../../../testkit/api-world.ts';
import { analysedRelease, scriptedMetrics } from '../../../testkit/scripted-analysis.ts';

const START = Date.parse('2026-11-24T10:00:00.000Z');

describe('a Promote after the hold passed', () => {
  it('is not recorded as without evidence because one later reading failed', async () => {
    const config = apiConfig({
      strategy: 'canary',
      deploy: '{ command: ["./deploy.sh"], timeoutSeconds: 120 }',
      api: `    canary: { steps: [20, 50, 100], holdMinutes: 5, autoPromote: false }
    analysis: { source: haproxy, intervalSeconds: 60, errorRateFloorPercent: 1 }`,
    });
    const w = apiWorld(config, new Date(START), { production: 'blue' });
    let now = START;
    let tick = 0;
    let blip = false;
    w.releases.set(
      'rel-1',
      analysedRelease(new Date(START).toISOString(), 'canary', [20, 50, 100]),
    );
    const deps: AppDeps = {
      ...w.deps,
      clock: { now: () => new Date(now) },
      metrics: scriptedMetrics(
        () => (slot) => {
          if (blip) return new Error('connect ECONNREFUSED');
          const requests = Math.round(50 * 60 * (slot === 'green' ? 0.2 : 0.8));
          return { requests, errors: Math.round(requests * 0.001) };
        },
        () => tick,
      ),
    };
    const step = async () => {
      tick += 1;
      now += 60_000;
      await runAnalyzeStep(deps, { releaseId: 'rel-1' });
    };
    for (let i = 0; i < 6; i += 1) await step();
    const release = () => w.releases.get('rel-1') as Release;
    expect(release().canary?.awaitingPromotion).toBe(true);
    expect(
      release()
        .timeline.map((e) => e.what)
        .join('\n'),
    ).toContain('hold at 20 % passed');
    // While the approver is on the way, one read fails (a HAProxy reload): lastVerdict no_data.
    blip = true;
    await step();
    expect(release().analysis?.lastVerdict).toBe('no_data');
    await runEvent({ ...w.deps, clock: deps.clock }, 'rel-1', {
      type: 'promote',
      user: 'U0LEAD',
      fromStep: 0,
    });
    // The hold passed on evidence: ring 0 must read "passed", the timeline a plain Promote.
    expect(release().canary?.stepIndex).toBe(1);
    expect(release().timeline.at(-1)?.what).not.toContain('without evidence');
    expect(release().canary?.unproven ?? []).not.toContain(0);
  });

  it('in shadow mode, a hold that ended by time is no evidence: the Promote is recorded as anyway', () => {
    const at = new Date(START).toISOString();
    const ramping = analysedRelease(at, 'canary', [20, 50, 100]);
    const stepStartedAt = ramping.canary?.stepStartedAt ?? at;
    const now = new Date(START + 10 * 60_000);
    const ended = transition(
      ramping,
      { type: 'hold_passed', autoPromote: false, stepStartedAt, byTime: 'inconclusive' },
      now,
    ).release;
    expect(ended.canary?.awaitingPromotion).toBe(true);
    const promoted = transition(
      ended,
      { type: 'promote', user: 'U0LEAD', fromStep: 0 },
      now,
    ).release;
    expect(promoted.timeline.at(-1)?.what).toContain('promoted anyway, without evidence');
    expect(promoted.canary?.unproven).toEqual([0]);
  });

  it('autoPromote in shadow mode: a hold ended by time promotes, but the step is unproven', () => {
    const at = new Date(START).toISOString();
    const ramping = analysedRelease(at, 'canary', [20, 50, 100]);
    const stepStartedAt = ramping.canary?.stepStartedAt ?? at;
    const moved = transition(
      ramping,
      { type: 'hold_passed', autoPromote: true, stepStartedAt, byTime: 'breach' },
      new Date(START + 10 * 60_000),
    ).release;
    expect(moved.canary?.stepIndex).toBe(1);
    // Same as a manual Promote after a shadow hold ended by time: not shown as "passed".
    expect(moved.canary?.unproven ?? []).toContain(0);
  });

  it('a release stored before holdPassed was recorded, awaiting Promote after its hold passed, then a failed read: the Promote has its evidence', () => {
    const at = new Date(START).toISOString();
    const base = analysedRelease(at, 'canary', [20, 50, 100]);
    const stored = {
      ...base,
      canary: { ...base.canary, awaitingPromotion: true, promptedAt: at },
      analysis: {
        ...(base.analysis ?? { checks: 6, breaches: 0 }),
        lastVerdict: 'no_data',
        lastFigures: ['connect ECONNREFUSED'],
      },
    } as Release;
    const promoted = transition(
      stored,
      { type: 'promote', user: 'U0LEAD', fromStep: 0 },
      new Date(START + 11 * 60_000),
    ).release;
    expect(promoted.timeline.at(-1)?.what).not.toContain('without evidence');
  });
});
