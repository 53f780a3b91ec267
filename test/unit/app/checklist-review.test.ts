import { describe, expect, it } from 'vitest';
import { sweepService } from '../../../src/app/sweeper.ts';
import { approveRelease } from '../../../src/app/use-cases/decide-release.ts';
import { releaseStatus } from '../../../src/app/use-cases/release-status.ts';
import { requestRollback } from '../../../src/app/use-cases/rollback.ts';
import { runSwitchStep } from '../../../src/app/use-cases/switch-traffic.ts';
import { type TickClick, tickChecklist } from '../../../src/app/use-cases/tick-checklist.ts';
import { newChecklist } from '../../../src/domain/checklist.ts';
import { stageOf } from '../../../src/domain/click-fence.ts';
import type { Release } from '../../../src/domain/release.ts';
import { apiConfig } from '../../../testkit/api-config.ts';
import { requestedRelease } from '../../../testkit/api-world.ts';
import { memoryWorld } from '../../../testkit/memory-deps.ts';
import { releaseRecord, serviceRecord } from '../../../testkit/release-fixtures.ts';
import { refused } from '../../../testkit/release-outcomes.ts';

const NOW = new Date('2026-11-24T10:00:00.000Z');
const CONFIG = (checklists: string) =>
  apiConfig({ api: `    stabilityWindowMinutes: 0\n${checklists}\n` });

const POST_ONLY = `    checklists:
      pre: []
      post: [{ text: "Smoke test passed", owner: U0QA }, { text: "Stakeholders told", owner: U0PM, required: false }]`;

const requested = (checklists = '') => requestedRelease(CONFIG(checklists), NOW);

/** Approved and switched, as the worker would run it: the post-release items are tracked. */
async function live(checklists = POST_ONLY) {
  const { world, id } = await requested(checklists);
  await approveRelease(world.deps, { releaseId: id, user: 'U0LEAD' });
  const switching = world.releases.get(id) as Release;
  await runSwitchStep(world.deps, { releaseId: id, revision: switching.revision });
  expect(world.releases.get(id)?.state).toBe('released');
  return { world, id };
}

/** A click from a message drawn for `drawn`, whose element now shows `selected` ticked. */
function clickOn(
  drawn: Release,
  user: string,
  phase: 'pre' | 'post',
  selected: string[],
): TickClick {
  const ids = (drawn.checklist?.[phase] ?? []).map((i) => i.id);
  return {
    user,
    channel: 'C0RELEASES',
    stage: stageOf(drawn),
    phase,
    shown: ids,
    drawnTicked: ids.filter((id) => drawn.checklist?.ticks.some((t) => t.item === id)),
    selected,
  };
}

describe('checklists under attack, on in-memory ports and a manual clock', () => {
  it('sends the half-way reminder once, however many sweeps run in the second half of the window', async () => {
    const { world } = await live();
    world.clock.advance(2 * 3600_000);
    for (let pass = 0; pass < 4; pass += 1) {
      await sweepService(world.deps, 'api');
      world.clock.advance(60_000);
    }
    expect(world.posts.filter((p) => p.startsWith('releaseNote: ⏰'))).toHaveLength(1);
  });

  it('a rollback ends post-release tracking and its thread line names what was never ticked', async () => {
    const { world, id } = await live();
    await tickChecklist(
      world.deps,
      id,
      clickOn(world.releases.get(id) as Release, 'U0QA', 'post', ['post-0']),
    );
    await requestRollback(world.deps, { service: 'api', by: 'U0LEAD', reason: 'errors up' });
    const rolled = world.releases.get(id) as Release;
    expect(rolled.checklist?.postClosedAt).toBe(rolled.rollback?.at);
    const lines = rolled.timeline.map((e) => e.what);
    expect(lines.filter((l) => l.includes('ended by the rollback'))).toEqual([
      expect.stringContaining(
        '\nPost-release checklist: tracking ended by the rollback; never ticked: “Stakeholders told”',
      ),
    ]);
    // The sweep past the window has nothing left to close, so says nothing more.
    world.clock.advance(5 * 3600_000);
    expect(await sweepService(world.deps, 'api')).not.toContainEqual(
      expect.stringContaining('closed the post'),
    );
  });

  it('/release status names the open pre-release items while waiting and the open post-release items while tracked', async () => {
    const waiting = await requested();
    const before = (await releaseStatus(waiting.world.deps, { service: 'api' })).details?.join(
      '\n',
    );
    expect(before).toContain(
      'Checklist before release, still open: “Release notes reviewed” (required), “Rollback plan confirmed” (required), “Database migrations reviewed”, “On-call engineer aware”',
    );
    const { world, id } = await live();
    await tickChecklist(
      world.deps,
      id,
      clickOn(world.releases.get(id) as Release, 'U0QA', 'post', ['post-0']),
    );
    const after = (await releaseStatus(world.deps, { service: 'api' })).details?.join('\n');
    expect(after).toContain('Checklist after release, still open: “Stakeholders told” (<@U0PM>)');
  });

  it('an item text with a mention or a link cannot ping or link in the private answers', async () => {
    const { world, id } = await requested(`    checklists:
      pre: ["<!channel> read https://evil.example/x", { text: "Ask <@U0CTO>", required: false }]
      post: []`);
    const error = await refused(approveRelease(world.deps, { releaseId: id, user: 'U0LEAD' }));
    const answer = await tickChecklist(
      world.deps,
      id,
      clickOn(world.releases.get(id) as Release, 'U0LEAD', 'pre', ['pre-0']),
    );
    const status = (await releaseStatus(world.deps, { service: 'api' })).details
      ?.join('\n')
      .split('\n')
      .find((line) => line.startsWith('Checklist'));
    for (const text of [error.message, answer.message, answer.hint ?? '', status ?? '']) {
      expect(text).not.toMatch(/<!channel>|<@U0CTO>|:\/\//);
    }
    expect(answer.message).toContain('read https∶//evil.example/x');
    expect(status).toContain('“Ask ‹@U0CTO›”');
  });

  it('a stale copy whose box someone else ticked first: the answer and the audit name only the box that changed', async () => {
    const { world, id } = await requested();
    const drawn = world.releases.get(id) as Release;
    await tickChecklist(world.deps, id, clickOn(drawn, 'U0LEAD', 'pre', ['pre-0']));
    // The requester's copy, drawn before that tick, shows both boxes ticked by them now.
    const answer = await tickChecklist(
      world.deps,
      id,
      clickOn(drawn, 'U0DEV1', 'pre', ['pre-0', 'pre-1']),
    );
    expect(answer.message).toBe('You ticked “Rollback plan confirmed”.');
    expect(
      world.audit.filter((e) => e.what.startsWith('ticked')).map((e) => [e.who, e.what]),
    ).toEqual([
      ['U0LEAD', 'ticked pre-release checklist item “Release notes reviewed”'],
      ['U0DEV1', 'ticked pre-release checklist item “Rollback plan confirmed”'],
    ]);
    expect(world.releases.get(id)?.checklist?.ticks.map((t) => [t.item, t.by])).toEqual([
      ['pre-0', 'U0LEAD'],
      ['pre-1', 'U0DEV1'],
    ]);
  });

  it('the owner of one post-release item cannot tick another item, even in the same click', async () => {
    const { world, id } = await live();
    const drawn = world.releases.get(id) as Release;
    expect(
      (await refused(tickChecklist(world.deps, id, clickOn(drawn, 'U0QA', 'post', ['post-1']))))
        .code,
    ).toBe('not_allowed');
    expect(
      (
        await refused(
          tickChecklist(world.deps, id, clickOn(drawn, 'U0QA', 'post', ['post-0', 'post-1'])),
        )
      ).code,
    ).toBe('not_allowed');
    expect(world.releases.get(id)?.checklist?.ticks).toEqual([]);
  });

  it('a release superseded by a newer live one stops tracking its post items at the next sweep, without a reminder', async () => {
    const world = memoryWorld(CONFIG(''), NOW);
    const checklist = newChecklist({
      pre: [],
      post: [{ text: 'Smoke test passed', required: true }],
    });
    const at = (minutes: number) => new Date(NOW.getTime() + minutes * 60_000).toISOString();
    world.releases.set(
      'rel-1',
      releaseRecord(at(0), {
        state: 'released',
        releasedAt: at(0),
        ...(checklist ? { checklist } : {}),
      }),
    );
    world.releases.set(
      'rel-2',
      releaseRecord(at(60), {
        id: 'rel-2',
        version: '2.4.2',
        fromVersion: '2.4.1',
        fromSlot: 'green',
        toSlot: 'blue',
        state: 'released',
        releasedAt: at(60),
      }),
    );
    world.services.set(
      'api',
      serviceRecord(at(60), { production: 'blue', operation: null, lastReleaseId: 'rel-2' }),
    );
    world.clock.advance(3 * 3600_000);
    expect(await sweepService(world.deps, 'api')).toContain(
      'closed the post-release checklist of rel-1',
    );
    expect(world.posts.filter((p) => p.startsWith('releaseNote: ⏰'))).toEqual([]);
    expect(world.releases.get('rel-1')?.timeline.at(-1)?.what).toBe(
      'superseded by 2.4.2; post-release items never ticked: “Smoke test passed”',
    );
  });

  it('keeps the items copied onto the release when the config changes before the approval', async () => {
    const { world, id } = await requested('    checklists: { pre: ["Old item"], post: [] }');
    const changed = memoryWorld(CONFIG('    checklists: { pre: ["New item"], post: [] }'), NOW);
    const deps = { ...world.deps, config: changed.deps.config };
    const error = await refused(approveRelease(deps, { releaseId: id, user: 'U0LEAD' }));
    expect(error.message).toContain('“Old item”');
    const answer = await tickChecklist(
      deps,
      id,
      clickOn(world.releases.get(id) as Release, 'U0LEAD', 'pre', ['pre-0']),
    );
    expect(answer.message).toBe('You ticked “Old item”.');
    expect((await approveRelease(deps, { releaseId: id, user: 'U0LEAD' })).message).toContain(
      'switching api',
    );
  });

  it('a tick on a release whose record was lost is refused, audited, and changes nothing', async () => {
    const { world, id } = await requested();
    const drawn = world.releases.get(id) as Release;
    world.releases.delete(id);
    expect(
      (await refused(tickChecklist(world.deps, id, clickOn(drawn, 'U0LEAD', 'pre', ['pre-0']))))
        .code,
    ).toBe('not_available');
    expect(world.releases.has(id)).toBe(false);
    expect(world.audit.at(-1)).toMatchObject({
      who: 'U0LEAD',
      what: 'clicked the pre-release checklist',
      after: { outcome: 'refused: not_available' },
    });
  });

  it('refuses a rollback window of 0 in the config, so post-release items always have a window', () => {
    expect(() =>
      memoryWorld(
        CONFIG('    releaseTypes: { patch: { approvals: [lead], rollbackWindowMinutes: 0 } }'),
        NOW,
      ),
    ).toThrow(/releaseTypes\.patch\.rollbackWindowMinutes/);
  });

  it('a canary shows and tracks post-release items only once it carries all traffic', async () => {
    const checklist = newChecklist({
      pre: [],
      post: [{ text: 'Smoke test passed', required: true }],
    });
    const world = memoryWorld(CONFIG(''), NOW);
    const ramping = releaseRecord(NOW.toISOString(), {
      strategy: 'canary',
      state: 'ramping',
      ...(checklist ? { checklist } : {}),
    });
    world.releases.set('rel-1', ramping);
    world.services.set('api', serviceRecord(NOW.toISOString()));
    const error = await refused(
      tickChecklist(world.deps, 'rel-1', clickOn(ramping, 'U0DEV1', 'post', ['post-0'])),
    );
    expect(error.message).toContain('its post-release checklist is not tracked');
  });

  it('names the day the tracking ends when the rollback window runs past today', async () => {
    const { world } = await live(`${POST_ONLY}
    releaseTypes: { patch: { approvals: [lead], rollbackWindowMinutes: 2880 } }`);
    world.clock.advance(24 * 3600_000);
    await sweepService(world.deps, 'api');
    expect(world.posts.filter((p) => p.startsWith('releaseNote: ⏰'))).toEqual([
      'releaseNote: ⏰ After release, still open: “Smoke test passed”, “Stakeholders told”. Tracking ends with the rollback window at 2026-11-26 10:00 UTC.',
    ]);
  });
});
