import { describe, expect, it } from 'vitest';
import {
  type Checklist,
  checklistRules,
  DEFAULT_CHECKLISTS,
  newChecklist,
  openRequired,
  staleTick,
} from '../../../src/domain/checklist.ts';
import { stageOf } from '../../../src/domain/click-fence.ts';
import type { Release, ReleaseState } from '../../../src/domain/release.ts';
import { TransitionRefused, transition } from '../../../src/domain/release-machine.ts';
import { releaseRecord } from '../../../testkit/release-fixtures.ts';

const T0 = '2026-11-24T10:00:00.000Z';
const NOW = new Date('2026-11-24T10:05:00.000Z');
const SKELETON = newChecklist(DEFAULT_CHECKLISTS) as Checklist;

function release(state: ReleaseState, checklist: Checklist = SKELETON): Release {
  return releaseRecord(T0, {
    state,
    checklist,
    ...(state === 'released' ? { releasedAt: T0 } : {}),
  });
}

const tickPre = (user: string, ...items: string[]) =>
  ({
    type: 'tick',
    user,
    phase: 'pre',
    changes: items.map((item) => ({ item, ticked: true })),
  }) as const;

function refusal(run: () => unknown): TransitionRefused {
  try {
    run();
  } catch (error) {
    if (error instanceof TransitionRefused) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('checklist rules', () => {
  it('falls back list by list: release type, then service, then the seeds’ skeleton', () => {
    const post = [{ text: 'Smoke', required: true }];
    expect(checklistRules(undefined, undefined)).toEqual(DEFAULT_CHECKLISTS);
    expect(checklistRules({ pre: [] }, undefined)).toEqual({
      pre: [],
      post: DEFAULT_CHECKLISTS.post,
    });
    expect(checklistRules({ pre: [] }, { post })).toEqual({ pre: [], post });
    expect(newChecklist({ pre: [], post: [] })).toBeUndefined();
  });

  it('numbers items per phase, so ids stay put whatever the config does later', () => {
    expect(SKELETON.pre.map((i) => i.id)).toEqual(['pre-0', 'pre-1', 'pre-2', 'pre-3']);
    expect(SKELETON.post.map((i) => i.id)).toEqual(['post-0', 'post-1', 'post-2']);
    expect(SKELETON.pre.filter((i) => i.required).map((i) => i.text)).toEqual([
      'Release notes reviewed',
      'Rollback plan confirmed',
    ]);
  });
});

describe('ticks through the release machine', () => {
  it('refuses an approval while a required item is unticked, naming every open required item', () => {
    const error = refusal(() =>
      transition(
        release('awaiting_approval'),
        { type: 'approve', user: 'U0LEAD', roles: ['lead'] },
        NOW,
      ),
    );
    expect(error.code).toBe('checklist_open');
    expect(error.message).toContain('“Release notes reviewed”, “Rollback plan confirmed”');
  });

  it('records who ticked what and when, with a timeline line and a new revision', () => {
    const before = release('awaiting_approval');
    const { release: after, effects } = transition(before, tickPre('U0DEV1', 'pre-0'), NOW);
    expect(effects).toEqual([]);
    expect(after.revision).toBe(before.revision + 1);
    expect(after.checklist?.ticks).toEqual([
      { item: 'pre-0', by: 'U0DEV1', at: NOW.toISOString() },
    ]);
    expect(after.timeline.at(-1)).toEqual({
      at: NOW.toISOString(),
      who: 'U0DEV1',
      what: 'ticked “Release notes reviewed”',
    });
    expect(openRequired(after).map((i) => i.text)).toEqual(['Rollback plan confirmed']);
  });

  it('lets the approval through once the required items are ticked; optional ones may stay open', () => {
    const ticked = transition(
      release('awaiting_approval'),
      tickPre('U0DEV1', 'pre-0', 'pre-1'),
      NOW,
    );
    const approved = transition(
      ticked.release,
      { type: 'approve', user: 'U0LEAD', roles: ['lead'] },
      NOW,
    );
    expect(approved.release.state).toBe('switching');
    expect(approved.effects).toEqual([{ type: 'switch_traffic' }]);
  });

  it('keeps the first tick when a second person ticks the same box; changes nothing, no revision', () => {
    const once = transition(release('awaiting_approval'), tickPre('U0DEV1', 'pre-0'), NOW).release;
    const twice = transition(once, tickPre('U0LEAD', 'pre-0'), new Date('2026-11-24T10:06:00Z'));
    expect(twice.release).toBe(once);
    expect(once.checklist?.ticks[0]?.by).toBe('U0DEV1');
  });

  it('unticks while the release waits, and the approval is refused again', () => {
    const ticked = transition(
      release('awaiting_approval'),
      tickPre('U0DEV1', 'pre-0', 'pre-1'),
      NOW,
    );
    const unticked = transition(
      ticked.release,
      { type: 'tick', user: 'U0LEAD', phase: 'pre', changes: [{ item: 'pre-1', ticked: false }] },
      NOW,
    ).release;
    expect(unticked.timeline.at(-1)?.what).toBe('unticked “Rollback plan confirmed”');
    expect(
      refusal(() => transition(unticked, { type: 'approve', user: 'U0LEAD', roles: ['lead'] }, NOW))
        .message,
    ).toContain('still open: “Rollback plan confirmed”.');
  });

  it.each([
    ['switching', 'illegal_transition'],
    ['released', 'release_ended'],
    ['rejected', 'release_ended'],
  ] as const)('refuses a pre-release tick once the release is %s', (state, code) => {
    expect(refusal(() => transition(release(state), tickPre('U0DEV1', 'pre-0'), NOW)).code).toBe(
      code,
    );
  });

  it('refuses an item the release does not have', () => {
    expect(
      refusal(() => transition(release('awaiting_approval'), tickPre('U0DEV1', 'pre-9'), NOW)).code,
    ).toBe('illegal_transition');
  });

  it('an untick after one approval keeps that approval and refuses the next until ticked again', () => {
    const twoRoles = releaseRecord(T0, {
      requiredRoles: ['lead', 'security'],
      checklist: SKELETON,
    });
    let r = transition(twoRoles, tickPre('U0DEV1', 'pre-0', 'pre-1'), NOW).release;
    r = transition(r, { type: 'approve', user: 'U0LEAD', roles: ['lead'] }, NOW).release;
    r = transition(
      r,
      { type: 'tick', user: 'U0DEV1', phase: 'pre', changes: [{ item: 'pre-0', ticked: false }] },
      NOW,
    ).release;
    expect(r.approvals.map((a) => a.user)).toEqual(['U0LEAD']);
    expect(
      refusal(() => transition(r, { type: 'approve', user: 'U0SEC', roles: ['security'] }, NOW))
        .code,
    ).toBe('checklist_open');
    r = transition(r, tickPre('U0SEC', 'pre-0'), NOW).release;
    expect(
      transition(r, { type: 'approve', user: 'U0SEC', roles: ['security'] }, NOW).release.state,
    ).toBe('switching');
  });

  it('a release requested before checklists existed approves as before', () => {
    const old = releaseRecord(T0);
    const { release: after } = transition(
      old,
      { type: 'approve', user: 'U0LEAD', roles: ['lead'] },
      NOW,
    );
    expect(after.state).toBe('switching');
  });

  it('tracks post-release items after the switch and closes them when the last is ticked', () => {
    const live = release('released');
    const tickPost = (item: string) =>
      ({ type: 'tick', user: 'U0QA', phase: 'post', changes: [{ item, ticked: true }] }) as const;
    let r = transition(live, tickPost('post-0'), NOW).release;
    r = transition(r, tickPost('post-1'), NOW).release;
    expect(r.checklist?.postClosedAt).toBeUndefined();
    r = transition(r, tickPost('post-2'), NOW).release;
    expect(r.checklist?.postClosedAt).toBe(NOW.toISOString());
    expect(r.timeline.at(-1)?.what).toBe(
      'ticked “Stakeholders told” (after release); every post-release item is ticked',
    );
    expect(refusal(() => transition(r, tickPost('post-0'), NOW)).code).toBe('release_ended');
  });

  it('closes tracking at the end of the window with one line naming what was never ticked; once', () => {
    const live = transition(
      release('released'),
      { type: 'tick', user: 'U0QA', phase: 'post', changes: [{ item: 'post-0', ticked: true }] },
      NOW,
    ).release;
    const closed = transition(live, { type: 'close_checklist' }, NOW).release;
    expect(closed.timeline.at(-1)).toEqual({
      at: NOW.toISOString(),
      who: 'greenlight',
      what: 'rollback window ended; post-release items never ticked: “Dashboards and error rates checked”, “Stakeholders told”',
    });
    expect(transition(closed, { type: 'close_checklist' }, NOW).release).toBe(closed);
  });

  it('does not track post-release items before the switch or after a rollback', () => {
    const tick = {
      type: 'tick',
      user: 'U0QA',
      phase: 'post',
      changes: [{ item: 'post-0', ticked: true }],
    } as const;
    expect(() => transition(release('awaiting_approval'), tick, NOW)).toThrow(TransitionRefused);
    expect(() => transition(release('rolled_back'), tick, NOW)).toThrow(TransitionRefused);
  });
});

describe('staleTick', () => {
  it('takes pre-release ticks only from a card drawn while waiting, and only while waiting', () => {
    const waiting = release('awaiting_approval');
    expect(staleTick('pre', stageOf(waiting), waiting)).toBeUndefined();
    expect(staleTick('pre', undefined, waiting)).toContain('no longer waits');
    expect(staleTick('pre', 'awaiting_approval', release('switching'))).toContain(
      'no longer waits',
    );
    expect(staleTick('post', 'released', release('released'))).toBeUndefined();
    expect(staleTick('post', 'released', release('rolled_back'))).toContain('not live');
  });
});
