import { describe, expect, it } from 'vitest';
import { approveRelease } from '../../../src/app/use-cases/decide-release.ts';
import { runAnalyzeStep } from '../../../src/app/use-cases/progressive.ts';
import { steerCanary } from '../../../src/app/use-cases/steer-canary.ts';
import { runSwitchStep } from '../../../src/app/use-cases/switch-traffic.ts';
import type { Release, ReleaseState } from '../../../src/domain/release.ts';
import { apiConfig } from '../../../testkit/api-config.ts';
import { memoryWorld } from '../../../testkit/memory-deps.ts';
import { releaseRecord, serviceRecord } from '../../../testkit/release-fixtures.ts';

// The calendar at the moment of acting (issue 11): a freeze that began after /release.
const NOW = new Date('2026-11-27T10:00:00.000Z'); // inside the freeze below
const AT = '2026-11-27T09:00:00.000Z';
const yaml = (autoPromote: boolean) =>
  apiConfig({
    top: `freeze:
  - { from: "2026-11-27T09:30:00Z", to: "2026-12-01T00:00:00Z", reason: "Black Friday" }`,
    strategy: 'canary',
    api: `    canary: { steps: [20, 100], holdMinutes: 10, autoPromote: ${autoPromote} }
    approvalTtlMinutes: 600`,
  });

function world(state: ReleaseState, autoPromote = false, extra: Partial<Release> = {}) {
  const w = memoryWorld(yaml(autoPromote), NOW);
  const release = releaseRecord(AT, {
    strategy: 'canary',
    approvals: state === 'awaiting_approval' ? [] : [{ role: 'lead', user: 'U0LEAD', at: AT }],
    state,
    canary: {
      steps: [20, 100],
      stepIndex: state === 'awaiting_approval' ? -1 : 0,
      stepStartedAt: AT,
    },
    analysis: { checks: 1, breaches: 0, samples: { canary: null, baseline: null }, at: AT },
    ...extra,
  });
  w.releases.set(release.id, release);
  w.services.set('api', serviceRecord(AT));
  return w;
}

describe('the calendar is checked when traffic would move', () => {
  it('refuses an approval in a freeze that began after /release; the release stays pending', async () => {
    const w = world('awaiting_approval');
    await expect(approveRelease(w.deps, { releaseId: 'rel-1', user: 'U0LEAD' })).rejects.toThrow(
      'frozen until',
    );
    expect(w.releases.get('rel-1')?.state).toBe('awaiting_approval');
    expect(w.jobs).toEqual([]);
  });

  it('fails a switch that reaches the freeze, and traffic stays on PRODUCTION', async () => {
    const w = world('switching');
    await runSwitchStep(w.deps, { releaseId: 'rel-1', revision: 3 });
    expect(w.releases.get('rel-1')?.state).toBe('failed');
    expect(w.releases.get('rel-1')?.failure).toContain('the calendar closed');
    expect(w.weights).toEqual({ blue: 100, green: 0 });
  });

  it('refuses a Promote in a freeze', async () => {
    const w = world('ramping');
    await expect(
      steerCanary(w.deps, { releaseId: 'rel-1', user: 'U0LEAD', action: 'promote', fromStep: 0 }),
    ).rejects.toThrow('the canary stays where it is');
    expect(w.releases.get('rel-1')?.canary?.stepIndex).toBe(0);
  });

  it('lets autoPromote hold at its step in a freeze, saying until when', async () => {
    const w = world('ramping', true);
    await runAnalyzeStep(w.deps, { releaseId: 'rel-1' });
    const after = w.releases.get('rel-1');
    expect(after?.state).toBe('ramping');
    expect(after?.canary?.stepIndex).toBe(0);
    expect(w.posts.some((p) => p.includes('Holding at 20 %: api is frozen until'))).toBe(true);
  });

  it('lets a justified hotfix through (the freeze exception)', async () => {
    const w = world('awaiting_approval', false, {
      freezeException: { justification: 'payments down', window: 'frozen (Black Friday)' },
    });
    const answer = await approveRelease(w.deps, { releaseId: 'rel-1', user: 'U0LEAD' });
    expect(answer.message).toContain('switching api to green');
  });
});
