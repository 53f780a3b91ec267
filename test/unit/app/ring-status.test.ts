import { describe, expect, it } from 'vitest';
import { dispatchCommand } from '../../../src/app/dispatch-command.ts';
import { ringLines } from '../../../src/app/ring-traffic.ts';
import type { CanaryProgress, Release } from '../../../src/domain/release.ts';
import { transition } from '../../../src/domain/release-machine.ts';
import type { AudienceEntry } from '../../../src/domain/rings.ts';
import { apiConfig } from '../../../testkit/api-config.ts';
import { memoryWorld } from '../../../testkit/memory-deps.ts';
import { releaseRecord, serviceRecord } from '../../../testkit/release-fixtures.ts';

// `/release status` while a release walks its rings: the soak left is counted from the ring's
// stored start, so a Greenlight restarted mid-ring (a new process, a new clock reading) shows
// the same minutes as the one before it.
const STEP_START = '2026-11-24T10:00:00.000Z';
const CONFIG = apiConfig({
  strategy: 'canary',
  haproxy: 'servers: { blue: blue, green: green }, audienceMaps: { header: /etc/h.map }',
  api: `    rings:
      internal: { match: { header: X-Greenlight-Ring, values: [internal] }, soakMinutes: 60 }
      early: { percent: 10, soakMinutes: 1440 }
      all: { percent: 100, soakMinutes: 0 }`,
});

const ringed = releaseRecord(STEP_START, {
  strategy: 'canary',
  state: 'ramping',
  canary: {
    steps: [0, 10, 100],
    stepIndex: 0,
    stepStartedAt: STEP_START,
    rings: [
      { name: 'internal', who: 'requests with X-Greenlight-Ring: internal', soakMinutes: 60 },
      { name: 'early', who: '10 % of everyone', soakMinutes: 1440 },
      { name: 'all', who: '100 % of everyone', soakMinutes: 0 },
    ],
  },
});

function statusAt(minutesAfterStart: number, held?: AudienceEntry[]) {
  const w = memoryWorld(CONFIG, new Date(Date.parse(STEP_START) + minutesAfterStart * 60_000));
  const traffic = held ? { ...w.deps.traffic, audience: async () => held } : w.deps.traffic;
  return ringLines({ ...w.deps, traffic }, ringed);
}

describe('/release status during rings', () => {
  it('counts the soak left from the stored ring start, whenever the process started', async () => {
    expect(await statusAt(45)).toEqual([
      '· ring internal: requests with X-Greenlight-Ring: internal · now, soak left 15 min',
      '· ring early: 10 % of everyone · next',
      '· ring all: 100 % of everyone · next',
    ]);
    expect((await statusAt(75))[0]).toContain('soak left 0 min');
  });

  it('shows what HAProxy holds, a load balancer missing an entry included', async () => {
    const lines = await statusAt(10, [
      { kind: 'header', key: 'internal', slot: 'green', partial: true },
    ]);
    expect(lines.at(-1)).toBe(
      '· HAProxy audience: header internal → green (on some load balancers only)',
    );
  });
});

describe('/rollback --dry-run during rings', () => {
  async function plan(release: typeof ringed): Promise<string> {
    const w = memoryWorld(CONFIG, new Date(Date.parse(STEP_START) + 60_000));
    w.services.set('api', serviceRecord(STEP_START));
    w.releases.set(release.id, release);
    const answer = await dispatchCommand(
      w.deps,
      { kind: 'rollback', service: 'api', dryRun: true },
      { command: 'rollback', userId: 'U0LEAD', channelId: 'C0RELEASES', text: 'api --dry-run' },
    );
    expect(w.releases.get(release.id)?.state).toBe(release.state);
    return answer.details?.join('\n') ?? '';
  }

  it('says the audiences come off before the weights, as the rollback does', async () => {
    expect(await plan(ringed)).toContain(
      'Audiences first: header internal → green comes off the audience maps, then the weights.',
    );
  });

  it('names no audience once the release carries all traffic (the maps are empty by then)', async () => {
    const observing = { ...ringed, state: 'observing' as const, observeUntil: STEP_START };
    expect(await plan(observing)).not.toContain('Audiences first');
  });

  it('a ring left on Promote without evidence reads as such, not as passed', async () => {
    const w = memoryWorld(CONFIG, new Date(Date.parse(STEP_START) + 90 * 60_000));
    const promote = { type: 'promote', user: 'U0LEAD', fromStep: 0 } as const;
    // No analysis verdict yet: the Promote is "anyway".
    const anyway = transition(ringed, promote, new Date(STEP_START)).release;
    expect((await ringLines(w.deps, anyway))[0]).toBe(
      '· ring internal: requests with X-Greenlight-Ring: internal · promoted without evidence',
    );
    const proven = transition(
      { ...ringed, analysis: { checks: 3, breaches: 0, lastVerdict: 'pass' } } as Release,
      promote,
      new Date(STEP_START),
    ).release;
    expect((await ringLines(w.deps, proven))[0]).toBe(
      '· ring internal: requests with X-Greenlight-Ring: internal · passed',
    );
  });

  it('a Promote anyway undone by a closed calendar does not mark the ring; one with evidence later reads passed', async () => {
    // On ring early.
    const early = { ...ringed, canary: { ...(ringed.canary as CanaryProgress), stepIndex: 1 } };
    const now = new Date(STEP_START);
    // Promote anyway from ring early (no verdict yet) asks for the switch...
    const anyway = transition(early, { type: 'promote', user: 'U0LEAD', fromStep: 1 }, now).release;
    expect(anyway.state).toBe('switching');
    // ...which a closed calendar holds: back on ring early, that Promote no longer counts.
    const held = transition(
      anyway,
      { type: 'switch_held', reason: 'calendar closed' } as never,
      now,
    ).release;
    expect(held.canary?.stepIndex).toBe(1);
    // The hold then passes on evidence and a plain Promote takes it to 100 %.
    const proven = transition(
      { ...held, analysis: { checks: 9, breaches: 0, lastVerdict: 'pass' } } as Release,
      { type: 'promote', user: 'U0LEAD', fromStep: 1 },
      now,
    ).release;
    expect(proven.timeline.at(-1)?.what).toMatch(/^promoted to 100 %/);
    const w = memoryWorld(CONFIG, now);
    expect((await ringLines(w.deps, proven))[1]).toBe('· ring early: 10 % of everyone · passed');
  });
});
