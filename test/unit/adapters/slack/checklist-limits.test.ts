import { describe, expect, it } from 'vitest';
import {
  postChecklistMessage,
  preChecklistBlocks,
} from '../../../../src/adapters/slack/blocks/checklist-blocks.ts';
import { releaseParentMessage } from '../../../../src/adapters/slack/blocks/release-card.ts';
import { parseConfig } from '../../../../src/config/load-config.ts';
import { type Checklist, newChecklist } from '../../../../src/domain/checklist.ts';
import { apiConfig } from '../../../../testkit/api-config.ts';
import { blockKitViolations } from '../../../../testkit/block-kit-limits.ts';
import { releaseRecord, serviceRecord } from '../../../../testkit/release-fixtures.ts';

const T0 = '2026-11-24T10:00:00.000Z';
const CONFIG = parseConfig(apiConfig());

/** The longest list the config takes (30), the longest texts (60), two owners each, all ticked. */
const items = (phase: string) =>
  Array.from({ length: 30 }, (_, i) => ({
    text: `${phase} item ${String(i).padStart(2, '0')} ${'x'.repeat(47)}`,
    required: true,
    owner: ['U0123456789', 'S0123456789'],
  }));
const FULL = newChecklist({ pre: items('Pre'), post: items('Post') }) as Checklist;
const ALL_TICKED: Checklist = {
  ...FULL,
  ticks: [...FULL.pre, ...FULL.post].map((i) => ({ item: i.id, by: 'U0987654321', at: T0 })),
};

const textOf = (message: { text: string; blocks: unknown[] }) => JSON.stringify(message.blocks);

describe('checklists at the config’s limits', () => {
  it('shows all 30 pre-release items on the card after the decision, within Slack’s limits', () => {
    const api = CONFIG.services.api;
    if (api === undefined) throw new Error('fixture config lost api');
    const card = releaseParentMessage(
      releaseRecord(T0, { state: 'released', releasedAt: T0, checklist: ALL_TICKED }),
      serviceRecord(T0),
      api,
    );
    expect(blockKitViolations(card)).toEqual([]);
    for (const item of FULL.pre) expect(textOf(card)).toContain(item.text);
  });

  it('shows all 30 post-release items, their owners and ticks, tracked and closed, within Slack’s limits', () => {
    for (const checklist of [
      { ...ALL_TICKED, ticks: ALL_TICKED.ticks.slice(0, -1) },
      { ...ALL_TICKED, postClosedAt: T0 },
    ]) {
      const message = postChecklistMessage(
        releaseRecord(T0, { state: 'released', releasedAt: T0, checklist }),
      );
      if (message === undefined) throw new Error('no post-release message');
      expect(blockKitViolations(message)).toEqual([]);
      for (const item of FULL.post) expect(textOf(message)).toContain(item.text);
      expect(textOf(message).match(/<!subteam\^S0123456789>/g)).toHaveLength(30);
    }
  });

  it('does not say Approve waits for items when every pre-release item is optional', () => {
    const optional = newChecklist({
      pre: [{ text: 'On-call engineer aware', required: false }],
      post: [],
    }) as Checklist;
    const blocks = JSON.stringify(
      preChecklistBlocks(releaseRecord(T0, { state: 'awaiting_approval', checklist: optional })),
    );
    expect(blocks).not.toContain('Approve counts once');
    expect(blocks).toContain('optional: Approve does not wait for them');
  });
});
