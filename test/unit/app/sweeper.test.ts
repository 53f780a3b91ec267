import { describe, expect, it } from 'vitest';
import { sweepService } from '../../../src/app/sweeper.ts';
import type { Release, ReleaseState } from '../../../src/domain/release.ts';
import type { Operation } from '../../../src/domain/service-state.ts';
import { apiConfig } from '../../../testkit/api-config.ts';
import { memoryWorld } from '../../../testkit/memory-deps.ts';
import { releaseRecord, serviceRecord } from '../../../testkit/release-fixtures.ts';

const START = Date.parse('2026-11-24T10:00:00.000Z');
const at = (minutes: number) => new Date(START + minutes * 60_000);
const CONFIG = apiConfig({
  strategy: 'canary',
  deploy: '{ command: ["./deploy.sh"], timeoutSeconds: 120 }',
  api: `    health: { readyTimeoutSeconds: 60 }
    approvalTtlMinutes: 60
    deadlines: { switchMinutes: 5, pausedMinutes: 30 }`,
});

function setUp(
  minutesLater: number,
  state: ReleaseState,
  extra: Partial<Release> = {},
  op?: Operation | null,
) {
  const w = memoryWorld(CONFIG, at(minutesLater));
  const iso = at(0).toISOString();
  const release = releaseRecord(iso, {
    strategy: 'canary',
    state,
    canary: { steps: [20, 100], stepIndex: 0, stepStartedAt: iso },
    revision: 4,
    ...extra,
  });
  w.releases.set(release.id, release);
  w.services.set(
    'api',
    serviceRecord(iso, {
      revision: 7,
      ...(op !== undefined ? { operation: op } : {}),
    }),
  );
  return w;
}

describe('the sweeper: deadlines and lost jobs', () => {
  it('reminds half-way through an approval wait, once per wait, then expires the release and frees the service', async () => {
    const half = setUp(31, 'awaiting_approval');
    await sweepService(half.deps, 'api');
    expect(half.releases.get('rel-1')?.state).toBe('awaiting_approval');
    expect(half.posts.filter((p) => p.includes('Still waiting'))).toHaveLength(1);

    const late = setUp(61, 'awaiting_approval');
    await sweepService(late.deps, 'api');
    expect(late.releases.get('rel-1')?.state).toBe('cancelled');
    expect(late.releases.get('rel-1')?.failure).toContain('expired');
    expect(late.services.get('api')?.operation).toBeNull();
  });

  it('enqueues a lost switch again under the revision it was asked for', async () => {
    const w = setUp(1, 'switching');
    w.jobState = () => 'missing';
    await sweepService(w.deps, 'api');
    expect(w.jobs).toEqual([{ step: 'switch', releaseId: 'rel-1', revision: 4 }]);
    expect(w.releases.get('rel-1')?.state).toBe('switching');
  });

  it('ends a switch whose job gave up, or that outlived its deadline, and asks for traffic back', async () => {
    for (const [minutes, jobState] of [
      [1, 'failed'],
      [6, 'pending'],
    ] as const) {
      const w = setUp(minutes, 'switching');
      w.jobState = () => jobState;
      await sweepService(w.deps, 'api');
      expect(w.releases.get('rel-1')?.state).toBe('failed');
      expect(w.jobs.map((j) => j.step)).toEqual(['traffic']);
      expect(w.services.get('api')?.operation).toBeNull();
    }
  });

  it('rolls back a canary paused past its deadline', async () => {
    const w = setUp(31, 'ramping', {
      paused: { by: 'greenlight', reason: 'inconclusive', at: at(0).toISOString() },
      analysis: { checks: 3, breaches: 0, at: at(31).toISOString() },
    });
    await sweepService(w.deps, 'api');
    expect(w.releases.get('rel-1')?.state).toBe('rolling_back');
    expect(w.releases.get('rel-1')?.rollback?.reason).toContain('paused for 30 min');
    expect(w.jobs).toEqual([{ step: 'rollback', releaseId: 'rel-1', attempt: 5 }]);
  });

  it('ends a /bump past its deploy timeout, readiness wait and a minute, and frees the service', async () => {
    const bump: Operation = {
      id: 'bump-1',
      kind: 'bump',
      by: 'U0DEV1',
      startedAt: at(0).toISOString(),
      version: '2.4.2',
    };
    const early = setUp(2, 'released', {}, bump);
    early.jobState = () => 'missing';
    await sweepService(early.deps, 'api');
    expect(early.jobs).toEqual([{ step: 'deploy', service: 'api', operationId: 'bump-1' }]);
    expect(early.services.get('api')?.operation?.id).toBe('bump-1');

    const late = setUp(4.1, 'released', {}, bump);
    await sweepService(late.deps, 'api');
    const service = late.services.get('api');
    expect(service?.operation).toBeNull();
    expect(service?.slots.green.health).toBe('failed');
    expect(service?.slots.green.note).toContain('did not finish in time');
  });

  it('holds the service again for an active release whose hold was lost', async () => {
    const w = setUp(
      1,
      'ramping',
      { analysis: { checks: 1, breaches: 0, at: at(1).toISOString() } },
      null,
    );
    await sweepService(w.deps, 'api');
    expect(w.services.get('api')?.operation?.releaseId).toBe('rel-1');
  });
});
