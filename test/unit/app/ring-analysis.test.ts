import { describe, expect, it } from 'vitest';
import type { AppDeps } from '../../../src/app/app-deps.ts';
import { runAnalyzeStep } from '../../../src/app/use-cases/progressive.ts';
import type { Release } from '../../../src/domain/release.ts';
import { apiConfig } from '../../../testkit/api-config.ts';
import { memoryWorld } from '../../../testkit/memory-deps.ts';
import { releaseRecord, serviceRecord } from '../../../testkit/release-fixtures.ts';

// A ring's own analysis ceilings apply while the release is in that ring, and only then: the
// same readings (a 20 ms mean response time, no errors) breach a ring that allows 10 ms and
// pass the service's own ceiling.
const START = Date.parse('2026-11-24T10:00:00.000Z');

const config = (ringAnalysis: string) =>
  apiConfig({
    strategy: 'canary',
    deploy: '{ command: ["./deploy.sh"], timeoutSeconds: 120 }',
    api: `    rings:
      staff: { percent: 20, soakMinutes: 5${ringAnalysis} }
      all: { percent: 100, soakMinutes: 0 }
    analysis: { source: haproxy, intervalSeconds: 60, consecutiveBreaches: 2 }`,
  });

function setUp(ringAnalysis: string, stepIndex = 0) {
  const w = memoryWorld(config(ringAnalysis), new Date(START));
  let now = START;
  const iso = new Date(START).toISOString();
  w.releases.set(
    'rel-1',
    releaseRecord(iso, {
      strategy: 'canary',
      state: 'ramping',
      releasedAt: iso,
      canary: {
        steps: [20, 100],
        stepIndex,
        stepStartedAt: iso,
        rings: [
          { name: 'staff', who: '20 % of everyone', soakMinutes: 5 },
          { name: 'all', who: '100 % of everyone', soakMinutes: 0 },
        ],
      },
      approvals: [{ role: 'lead', user: 'U0LEAD', at: iso }],
    }),
  );
  w.services.set('api', serviceRecord(iso, { production: 'blue' }));
  const deps: AppDeps = {
    ...w.deps,
    clock: { now: () => new Date(now) },
    metrics: {
      read: async (_service, slot) => {
        const requests = slot === 'green' ? 600 : 2400;
        return {
          reading: { requests, errors: 0, errorRatePercent: 0, latencyMs: 20, latencyKind: 'mean' },
          sample: { now },
        };
      },
    },
  };
  return {
    release: () => w.releases.get('rel-1') as Release,
    async tick(times: number) {
      for (let i = 0; i < times; i += 1) {
        now += 60_000;
        await runAnalyzeStep(deps, { releaseId: 'rel-1' });
      }
    },
  };
}

describe("a ring's own analysis thresholds", () => {
  it('a ring stricter than the service rolls back on readings the service would accept', async () => {
    const t = setUp(', analysis: { maxMeanMs: 10 }');
    await t.tick(3);
    expect(t.release().state).toBe('rolling_back');
    expect(t.release().rollback?.reason).toMatch(/20 ms > 10 ms/);
  });

  it('without its own thresholds the ring is judged by the service analysis and holds', async () => {
    const t = setUp('');
    await t.tick(3);
    expect(t.release().state).toBe('ramping');
    expect(t.release().analysis?.lastVerdict).not.toBe('breach');
  });
});
