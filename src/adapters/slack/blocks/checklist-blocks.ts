import type { ActionsBlock, Checkboxes, KnownBlock, Option } from '@slack/types';
import {
  type ChecklistItem,
  type ChecklistPhase,
  itemList,
  openItems,
  postTracking,
  tickOf,
} from '../../../domain/checklist.ts';
import { stageOf } from '../../../domain/click-fence.ts';
import type { Release } from '../../../domain/release.ts';
import {
  context,
  escapeText,
  mrkdwn,
  plain,
  plainText,
  type SlackMessage,
  section,
} from './block-kit.ts';

/** action_ids of the checklists' checkboxes; the block_id carries the fence (see below). */
export const CHECKLIST_ACTIONS = { pre: 'release_checklist_pre', post: 'release_checklist_post' };

/** Block Kit allows 10 options per checkboxes element: longer lists are split into parts. */
export const OPTIONS_PER_ELEMENT = 10;

/**
 * `cl/<release id>/<stage>/<phase>/<part>/<mask>`: the release and stage the boxes were drawn
 * at, which part of the list, and which of its boxes were ticked then (bit i: item i of the part),
 * so a click changes only the boxes its clicker changed.
 */
export function checklistBlockId(release: Release, phase: ChecklistPhase, part: number): string {
  const checklist = release.checklist;
  const items = partItems(release, phase, part);
  const mask = items.reduce(
    (m, item, i) => (checklist && tickOf(checklist, item.id) ? m | (1 << i) : m),
    0,
  );
  return `cl/${release.id}/${stageOf(release)}/${phase}/${part}/${mask}`;
}

const BLOCK_ID =
  /^cl\/([A-Za-z0-9_.-]{1,100})\/([a-z_]{1,30}(?:\.-?\d{1,3})?(?:\.h\d{1,12})?(?:\.a)?(?:\.p\d{1,12})?)\/(pre|post)\/(\d{1,2})\/(\d{1,4})$/;

/** A block_id as Greenlight draws it, or undefined if forged. */
export function parseChecklistBlockId(blockId: string):
  | {
      releaseId: string;
      stage: string;
      phase: ChecklistPhase;
      part: number;
      mask: number;
    }
  | undefined {
  const m = BLOCK_ID.exec(blockId);
  if (m === null) return undefined;
  return {
    releaseId: m[1] ?? '',
    stage: m[2] ?? '',
    phase: m[3] === 'post' ? 'post' : 'pre',
    part: Number(m[4]),
    mask: Number(m[5]),
  };
}

export function partItems(release: Release, phase: ChecklistPhase, part: number): ChecklistItem[] {
  const items = release.checklist?.[phase] ?? [];
  return items.slice(part * OPTIONS_PER_ELEMENT, (part + 1) * OPTIONS_PER_ELEMENT);
}

const time = (iso: string) => `${iso.slice(11, 16)} UTC`;

/** Users and user groups as mentions. */
export const mentions = (principals: readonly string[]) =>
  principals.map((p) => (p.startsWith('S') ? `<!subteam^${p}>` : `<@${p}>`)).join(' ');

function option(release: Release, item: ChecklistItem): Option {
  const tick = release.checklist ? tickOf(release.checklist, item.id) : undefined;
  return {
    text: mrkdwn(`${escapeText(item.text)}${item.required ? ' *(required)*' : ''}`),
    value: item.id,
    // A description is plain text (no mentions): who ticked it is in the lines beside the boxes.
    ...(tick ? { description: plainText(`ticked at ${time(tick.at)}`) } : {}),
  };
}

/** The boxes of one phase, one actions block per 10 items, ticked as stored. */
export function checklistBoxes(release: Release, phase: ChecklistPhase): ActionsBlock[] {
  const items = release.checklist?.[phase] ?? [];
  const blocks: ActionsBlock[] = [];
  for (let part = 0; part * OPTIONS_PER_ELEMENT < items.length; part += 1) {
    const options = partItems(release, phase, part).map((item) => option(release, item));
    const ticked = options.filter((o) => o.description !== undefined);
    const element: Checkboxes = {
      type: 'checkboxes',
      action_id: CHECKLIST_ACTIONS[phase],
      options,
      ...(ticked.length > 0 ? { initial_options: ticked } : {}),
    };
    blocks.push({
      type: 'actions',
      block_id: checklistBlockId(release, phase, part),
      elements: [element],
    });
  }
  return blocks;
}

/**
 * One line per item: its box, text, owners, and who ticked it when; in pieces of whole lines
 * within a text's 3000 characters, so a long list is shown whole instead of cut mid-mention.
 */
function itemLines(release: Release, phase: ChecklistPhase, title: string): string[] {
  const checklist = release.checklist;
  const lines = (checklist?.[phase] ?? []).map((item) => {
    const tick = checklist ? tickOf(checklist, item.id) : undefined;
    const owner = item.owner?.length ? ` · owner ${mentions(item.owner)}` : '';
    const state = tick ? ` · ticked by <@${tick.by}> at ${time(tick.at)}` : '';
    return `${tick ? ':white_check_mark:' : ':white_large_square:'} ${escapeText(item.text)}${item.required ? ' (required)' : ''}${owner}${state}`;
  });
  const pieces = [title];
  for (const line of lines) {
    const last = pieces.length - 1;
    if (`${pieces[last]}\n${line}`.length > 3000) pieces.push(line);
    else pieces[last] = `${pieces[last]}\n${line}`;
  }
  return pieces;
}

/** The pre-release checklist on the release card: boxes while undecided, a summary after. */
export function preChecklistBlocks(release: Release): KnownBlock[] {
  if (!release.checklist?.pre.length) return [];
  if (release.state === 'awaiting_approval') {
    const checklist = release.checklist;
    const ticked = checklist.pre.flatMap((item) => {
      const tick = tickOf(checklist, item.id);
      return tick ? [`“${escapeText(item.text)}” by <@${tick.by}> at ${time(tick.at)}`] : [];
    });
    return [
      section(
        checklist.pre.some((item) => item.required)
          ? '*Before release* (Approve counts once every required item is ticked)'
          : '*Before release* (optional: Approve does not wait for them)',
      ),
      ...checklistBoxes(release, 'pre'),
      ...(ticked.length > 0 ? [context(`Ticked: ${ticked.join(' · ')}`)] : []),
    ];
  }
  return [
    {
      type: 'context',
      elements: itemLines(release, 'pre', '*Before release*').slice(0, 10).map(mrkdwn),
    },
  ];
}

/**
 * The post-release checklist, a reply in the thread once traffic has moved, edited in place as
 * items are ticked: owners mentioned, boxes while tracked, and when tracking ended, what was not.
 */
export function postChecklistMessage(release: Release): SlackMessage | undefined {
  const checklist = release.checklist;
  if (!checklist?.post.length || release.releasedAt === undefined) return undefined;
  const title = `:clipboard: After release · ${release.service} ${release.version}`;
  const blocks: KnownBlock[] = itemLines(release, 'post', `*${title}*`).map(section);
  const open = openItems(release, 'post');
  let status: string;
  if (postTracking(release)) {
    blocks.push(...checklistBoxes(release, 'post'));
    status = `Tracked until every item is ticked or the rollback window ends. Still open: ${itemList(open)}.`;
  } else if (checklist.postClosedAt !== undefined) {
    status =
      open.length > 0
        ? `Tracking ended at ${time(checklist.postClosedAt)}; never ticked: ${itemList(open)}.`
        : 'Every item is ticked.';
  } else {
    status = 'No longer tracked: the release is not live.';
  }
  blocks.push(context(escapeText(status)));
  return { text: plain(`${title}. ${status}`), blocks };
}

/** What the progress update says of the checklist for the current stage, if anything is open. */
export function checklistProgressLine(release: Release): string | undefined {
  if (release.state === 'awaiting_approval') {
    const open = openItems(release, 'pre');
    if (open.length === 0) return undefined;
    const required = open.filter((i) => i.required);
    return `*Before release, still open:* ${escapeText(itemList(open))}${required.length > 0 ? ` (Approve waits for ${escapeText(itemList(required))})` : ''}`;
  }
  if (!postTracking(release)) return undefined;
  const open = openItems(release, 'post');
  return open.length > 0
    ? `*After release, still open:* ${open.map((i) => `${escapeText(`“${i.text}”`)}${i.owner?.length ? ` (${mentions(i.owner)})` : ''}`).join(', ')}`
    : undefined;
}
