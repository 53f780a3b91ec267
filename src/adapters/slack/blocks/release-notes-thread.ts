/**
 * The full release notes in the thread once a release is released, in the seed's format:
 * New features, Enhancements, Bug fixes, Breaking changes, Security (then anything else), each
 * line with its PR/MR link and author as in the card. The text was made safe when the notes were
 * built (the user-text rule), so it is used as it is here.
 */
import type { SectionBlock } from '@slack/types';
import type { Release } from '../../../domain/release.ts';
import {
  entryLine,
  GROUP_TITLES,
  link,
  type NoteGroup,
  type NotesAvailable,
} from '../../../domain/release-notes.ts';
import { plain, type SlackMessage } from './block-kit.ts';

/** The seed's order; commits that fit none of its sections come last. */
export const THREAD_ORDER: readonly NoteGroup[] = [
  'feature',
  'enhancement',
  'fix',
  'breaking',
  'security',
  'other',
];

/** Block Kit: a section's text holds 3000 characters, a message 50 blocks. */
export const SECTION_CHARS = 3000;
export const MAX_BLOCKS = 50;

const section = (text: string): SectionBlock => ({
  type: 'section',
  text: { type: 'mrkdwn', text },
});

/**
 * The notes as thread blocks, or nothing when there is nothing to tell (no notes, notes that
 * could not be read, or no commits). Lines fill sections of at most `maxChars`; past `maxBlocks`
 * the rest is `…and N more` with the compare link.
 */
export function releaseNotesMessage(
  release: Release,
  maxChars = SECTION_CHARS,
  maxBlocks = MAX_BLOCKS,
): SlackMessage | undefined {
  const notes = release.notes;
  if (notes === undefined || !notes.ok || notes.total === 0 || notes.entries.length === 0)
    return undefined;
  const texts = notesBlocks(
    notes,
    `*Release notes · ${release.service} ${release.version}*`,
    maxChars,
    maxBlocks,
  );
  return {
    text: plain(
      `Release notes for ${release.service} ${release.version}: ${notes.total} commit${notes.total === 1 ? '' : 's'} since ${notes.fromTag}.`,
    ),
    blocks: texts.map(section),
  };
}

/** The texts of the sections, each at most `maxChars`, at most `maxBlocks` of them. */
export function notesBlocks(
  notes: NotesAvailable,
  title: string,
  maxChars = SECTION_CHARS,
  maxBlocks = MAX_BLOCKS,
): string[] {
  const order = (group: NoteGroup) => THREAD_ORDER.indexOf(group);
  // Array.prototype.sort is stable: within a section, the stored order (newest first) stays.
  const entries = [...notes.entries].sort((a, b) => order(a.group) - order(b.group));
  const range = link(notes.compareUrl, `${notes.fromTag}...${notes.toTag}`);
  const count = `${notes.total} commit${notes.total === 1 ? '' : 's'}`;
  const more = (n: number) =>
    `_…and ${n} more${notes.compareUrl ? `: ${link(notes.compareUrl, 'compare')}` : ''}_`;
  // Room kept in the last block for the `…and N more` line; N never has more digits than total.
  const reserve = more(notes.total).length + 1;
  const blocks: string[] = [];
  let current = `${title} · ${range} · ${count}`;
  let group: NoteGroup | undefined;
  let shown = 0;
  for (const entry of entries) {
    const line = entryLine(entry);
    const head = entry.group !== group ? `*${GROUP_TITLES[entry.group]}*\n` : '';
    const last = blocks.length === maxBlocks - 1;
    const joined = `${current}\n${head}${line}`;
    if (joined.length + (last ? reserve : 0) <= maxChars) {
      current = joined;
    } else if (!last) {
      blocks.push(current);
      // A section carried over to the next block keeps its title, so each block reads alone.
      current = `*${GROUP_TITLES[entry.group]}*\n${line}`;
    } else break;
    group = entry.group;
    shown += 1;
  }
  const left = notes.total - shown;
  if (left > 0) {
    const tail = more(left);
    if (`${current}\n${tail}`.length <= maxChars) current = `${current}\n${tail}`;
    else if (blocks.length < maxBlocks - 1) {
      blocks.push(current);
      current = tail;
    }
  }
  blocks.push(current);
  return blocks;
}
