import { describe, expect, it } from 'vitest';
import {
  CHECKLIST_ACTIONS,
  checklistBoxes,
  checklistProgressLine,
  parseChecklistBlockId,
} from '../../../../src/adapters/slack/blocks/checklist-blocks.ts';
import { releaseParentMessage } from '../../../../src/adapters/slack/blocks/release-card.ts';
import { parseConfig } from '../../../../src/config/load-config.ts';
import { type Checklist, newChecklist } from '../../../../src/domain/checklist.ts';
import { apiConfig } from '../../../../testkit/api-config.ts';
import { blockKitViolations } from '../../../../testkit/block-kit-limits.ts';
import { releaseRecord, serviceRecord } from '../../../../testkit/release-fixtures.ts';

const T0 = '2026-11-24T10:00:00.000Z';
const TWELVE = newChecklist({
  pre: Array.from({ length: 12 }, (_, i) => ({
    text: `Item ${i} ${'x'.repeat(50)}`,
    required: i < 2,
  })),
  post: [{ text: 'Smoke test passed', required: true, owner: ['U0QA', 'S0OPS'] }],
}) as Checklist;
const CONFIG = parseConfig(apiConfig());

describe('checklist blocks', () => {
  it('splits a long list into groups of 10 that Slack accepts, each fenced to its part and ticks', () => {
    const release = releaseRecord(T0, {
      checklist: { ...TWELVE, ticks: [{ item: 'pre-11', by: 'U0DEV1', at: T0 }] },
    });
    const blocks = checklistBoxes(release, 'pre');
    expect(blocks.map((b) => (b.elements[0] as { options: unknown[] }).options.length)).toEqual([
      10, 2,
    ]);
    expect(blocks.map((b) => parseChecklistBlockId(b.block_id ?? ''))).toEqual([
      { releaseId: 'rel-1', stage: 'awaiting_approval', phase: 'pre', part: 0, mask: 0 },
      { releaseId: 'rel-1', stage: 'awaiting_approval', phase: 'pre', part: 1, mask: 2 },
    ]);
    expect(blocks.every((b) => b.elements[0]?.action_id === CHECKLIST_ACTIONS.pre)).toBe(true);
    const api = CONFIG.services.api;
    if (api === undefined) throw new Error('fixture config lost api');
    const card = releaseParentMessage(release, serviceRecord(T0), api);
    expect(blockKitViolations(card)).toEqual([]);
  });

  it('refuses block ids Greenlight did not draw', () => {
    for (const forged of [
      'cl/rel-1/awaiting_approval/pre/0',
      'cl/rel 1/awaiting_approval/pre/0/0',
      'cl/rel-1/awaiting_approval/during/0/0',
      'release_decision',
    ])
      expect(parseChecklistBlockId(forged)).toBeUndefined();
  });

  it('names open post-release items with their owners in the progress update while observing', () => {
    const observing = releaseRecord(T0, { state: 'observing', releasedAt: T0, checklist: TWELVE });
    expect(checklistProgressLine(observing)).toBe(
      '*After release, still open:* “Smoke test passed” (<@U0QA> <!subteam^S0OPS>)',
    );
    const ticked = releaseRecord(T0, {
      state: 'observing',
      releasedAt: T0,
      checklist: { ...TWELVE, ticks: [{ item: 'post-0', by: 'U0QA', at: T0 }] },
    });
    expect(checklistProgressLine(ticked)).toBeUndefined();
    expect(
      checklistProgressLine(releaseRecord(T0, { state: 'switching', checklist: TWELVE })),
    ).toBeUndefined();
  });
});
