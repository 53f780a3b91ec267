import { describe, expect, it } from 'vitest';
import { dispatchCommand } from '../../../src/app/dispatch-command.ts';
import { sweepService } from '../../../src/app/sweeper.ts';
import { approveRelease } from '../../../src/app/use-cases/decide-release.ts';
import { type TickClick, tickChecklist } from '../../../src/app/use-cases/tick-checklist.ts';
import { ConfigError } from '../../../src/config/config-error.ts';
import { parseConfig } from '../../../src/config/load-config.ts';
import { stageOf } from '../../../src/domain/click-fence.ts';
import type { Release } from '../../../src/domain/release.ts';
import { apiConfig } from '../../../testkit/api-config.ts';
import { apiWorld, IDLE, requestedRelease } from '../../../testkit/api-world.ts';
import { refused } from '../../../testkit/release-outcomes.ts';

const NOW = new Date('2026-11-24T10:00:00.000Z');
const CONFIG = (checklists: string) =>
  apiConfig({ api: `    stabilityWindowMinutes: 0\n${checklists}\n` });

/** A world with api's STANDBY ready for a patch release, and the release requested. */
const requested = (checklists = '') => requestedRelease(CONFIG(checklists), NOW);

/** A click on item `index` of a phase, from a card drawn for the release as it is now. */
function click(release: Release, user: string, phase: 'pre' | 'post', items: number[]): TickClick {
  const ids = (release.checklist?.[phase] ?? []).map((i) => i.id);
  const ticked = ids.filter((id) => release.checklist?.ticks.some((t) => t.item === id));
  const flipped = items.map((i) => `${phase}-${i}`);
  return {
    user,
    channel: 'C0RELEASES',
    stage: stageOf(release),
    phase,
    shown: ids,
    drawnTicked: ticked,
    selected: ids.filter((id) => ticked.includes(id) !== flipped.includes(id)),
  };
}

describe('checklists in the use cases, on in-memory ports and a manual clock', () => {
  it('copies the seeds’ skeleton onto a release whose service configures none', async () => {
    const { world, id } = await requested();
    const release = world.releases.get(id) as Release;
    expect(release.checklist?.pre.map((i) => i.text)).toEqual([
      'Release notes reviewed',
      'Rollback plan confirmed',
      'Database migrations reviewed',
      'On-call engineer aware',
    ]);
    expect(release.checklist?.post).toHaveLength(3);
  });

  it('takes the release type’s lists over the service’s, list by list; [] means none', async () => {
    const { world, id } = await requested(`    checklists: { pre: ["Service item"], post: [] }
    releaseTypes:
      patch: { approvals: [lead], rollbackWindowMinutes: 60, checklists: { pre: [] } }`);
    expect(world.releases.get(id)?.checklist).toBeUndefined();
    expect((await approveRelease(world.deps, { releaseId: id, user: 'U0LEAD' })).message).toContain(
      'switching api',
    );
  });

  it('refuses Approve with the open items named and a hint; audits each tick with who and when', async () => {
    const { world, id } = await requested();
    const error = await refused(approveRelease(world.deps, { releaseId: id, user: 'U0LEAD' }));
    expect(error.message).toContain('“Release notes reviewed”, “Rollback plan confirmed”');
    expect(error.hint).toContain('Tick them on the release message');
    world.clock.advance(60_000);
    const answer = await tickChecklist(
      world.deps,
      id,
      click(world.releases.get(id) as Release, 'U0LEAD', 'pre', [0, 1]),
    );
    expect(answer.hint).toBe('Every required item is ticked: Approve counts now.');
    const ticks = world.audit.filter((e) => e.what.startsWith('ticked'));
    expect(ticks.map((e) => [e.who, e.what])).toEqual([
      ['U0LEAD', 'ticked pre-release checklist item “Release notes reviewed”'],
      ['U0LEAD', 'ticked pre-release checklist item “Rollback plan confirmed”'],
    ]);
    expect(ticks[0]?.after).toMatchObject({ at: '2026-11-24T10:01:00.000Z', ticked: true });
    expect((await approveRelease(world.deps, { releaseId: id, user: 'U0LEAD' })).message).toContain(
      'switching api',
    );
  });

  it('refuses ticks from outsiders, from other channels and from stale cards, changing nothing', async () => {
    const { world, id } = await requested();
    const release = world.releases.get(id) as Release;
    expect(
      (await refused(tickChecklist(world.deps, id, click(release, 'U0DEV2', 'pre', [0])))).code,
    ).toBe('not_allowed');
    expect(
      (
        await refused(
          tickChecklist(world.deps, id, {
            ...click(release, 'U0LEAD', 'pre', [0]),
            channel: 'C0OTHER',
          }),
        )
      ).code,
    ).toBe('not_allowed');
    expect(
      (
        await refused(
          tickChecklist(world.deps, id, {
            ...click(release, 'U0LEAD', 'pre', [0]),
            stage: 'released',
          }),
        )
      ).code,
    ).toBe('stale');
    expect(world.releases.get(id)?.revision).toBe(release.revision);
    expect(
      world.audit.filter((e) => e.what.includes('clicked the pre-release checklist')),
    ).toHaveLength(3);
  });

  it('two people ticking two boxes at the same moment both count (compare-and-set, retried)', async () => {
    const { world, id } = await requested();
    const drawn = world.releases.get(id) as Release;
    await Promise.all([
      tickChecklist(world.deps, id, click(drawn, 'U0DEV1', 'pre', [0])),
      tickChecklist(world.deps, id, click(drawn, 'U0LEAD', 'pre', [1])),
    ]);
    const ticks = world.releases.get(id)?.checklist?.ticks ?? [];
    expect(ticks.map((t) => [t.item, t.by]).sort()).toEqual([
      ['pre-0', 'U0DEV1'],
      ['pre-1', 'U0LEAD'],
    ]);
    expect(world.releases.get(id)?.revision).toBe(drawn.revision + 2);
  });

  it('lets post-release owners tick; closes tracking at the first sweep past the rollback window, once', async () => {
    const { world, id } = await requested(`    checklists:
      pre: []
      post: [{ text: "Smoke test passed", owner: U0QA }, { text: "Stakeholders told", required: false }]`);
    await approveRelease(world.deps, { releaseId: id, user: 'U0LEAD' });
    // The switch step, as the worker would run it.
    const { runSwitchStep } = await import('../../../src/app/use-cases/switch-traffic.ts');
    const switching = world.releases.get(id) as Release;
    await runSwitchStep(world.deps, { releaseId: id, revision: switching.revision });
    const live = world.releases.get(id) as Release;
    expect(live.state).toBe('released');
    await tickChecklist(world.deps, id, click(live, 'U0QA', 'post', [0]));
    expect(world.releases.get(id)?.checklist?.ticks.map((t) => t.by)).toEqual(['U0QA']);
    // Patch: a 4 h window. Half-way, a reminder of what is open (one outbox key, so posted once).
    world.clock.advance(2 * 3600_000 - 1000);
    await sweepService(world.deps, 'api');
    expect(world.posts.filter((p) => p.includes('still open'))).toEqual([]);
    world.clock.advance(1000);
    await sweepService(world.deps, 'api');
    expect(world.posts.filter((p) => p.includes('still open'))).toEqual([
      'releaseNote: ⏰ After release, still open: “Stakeholders told”. Tracking ends with the rollback window at 14:00 UTC.',
    ]);
    // A sweep before the window ends closes nothing; sweeps missed after it do no harm.
    world.clock.advance(2 * 3600_000 - 1000);
    expect(await sweepService(world.deps, 'api')).not.toContainEqual(
      expect.stringContaining('closed'),
    );
    world.clock.advance(3 * 3600_000);
    expect(await sweepService(world.deps, 'api')).toContain(
      `closed the post-release checklist of ${id}`,
    );
    expect(await sweepService(world.deps, 'api')).toEqual([]);
    const closed = world.releases.get(id) as Release;
    expect(closed.timeline.filter((e) => e.what.startsWith('rollback window ended'))).toEqual([
      {
        at: closed.checklist?.postClosedAt,
        who: 'greenlight',
        what: 'rollback window ended; post-release items never ticked: “Stakeholders told”',
      },
    ]);
  });

  it('says in a /release --dry-run plan what must be ticked, and changes nothing', async () => {
    const world = apiWorld(CONFIG(''), NOW, IDLE);
    const plan = await dispatchCommand(
      world.deps,
      { kind: 'release', service: 'api', dryRun: true },
      { command: 'release', userId: 'U0DEV1', channelId: 'C0RELEASES', text: 'api --dry-run' },
    );
    expect(plan.details?.join('\n')).toContain(
      'Checklists: Approve counts once “Release notes reviewed”, “Rollback plan confirmed” are ticked (2 optional); 3 after the switch, tracked until ticked or the rollback window ends.',
    );
    expect(world.releases.size).toBe(0);
  });

  it('refuses checklist config Slack could not show, with the path', () => {
    const bad = (checklists: string) => {
      try {
        parseConfig(CONFIG(checklists));
      } catch (error) {
        if (error instanceof ConfigError) return error.problems.map((p) => p.path);
        throw error;
      }
      return [];
    };
    expect(bad(`    checklists: { pre: ["${'x'.repeat(61)}"] }`)).toEqual([
      'services.api.checklists.pre.0',
    ]);
    expect(bad('    checklists: { post: [{ text: "Smoke", owner: "#qa" }] }')).toEqual([
      'services.api.checklists.post.0.owner',
    ]);
    expect(bad('    checklists: { pre: [], during: [] }')).toEqual([
      'services.api.checklists.during',
    ]);
  });
});
