import { mention } from './pre-switch-steps.ts';
import type { Release } from './release.ts';
import { neutralise } from './user-text.ts';

/** Before the approval (shown on the card) or after the switch (a reply in the thread). */
export type ChecklistPhase = 'pre' | 'post';

/** One item as configured: what to check, whether Approve waits for it, who owns it. */
export interface ChecklistItemRule {
  readonly text: string;
  readonly required: boolean;
  /** Slack users or user groups who own a post-release item (mentioned, and may tick it). */
  readonly owner?: readonly string[];
}

export interface ChecklistRules {
  readonly pre: readonly ChecklistItemRule[];
  readonly post: readonly ChecklistItemRule[];
}

/** An item as the release keeps it: the rule plus a stable id (`pre-0`, `post-2`). */
export interface ChecklistItem extends ChecklistItemRule {
  readonly id: string;
}

/** An item ticked now: by whom and when. Unticking removes it (the timeline keeps history). */
export interface ChecklistTick {
  readonly item: string;
  readonly by: string;
  readonly at: string;
}

/**
 * The checklists of one release, copied from the config when it was requested, so a config
 * change mid-release cannot move an item under someone's tick.
 */
export interface Checklist {
  readonly pre: readonly ChecklistItem[];
  readonly post: readonly ChecklistItem[];
  readonly ticks: readonly ChecklistTick[];
  /** When tracking of the post-release items ended (all ticked, the window ended, a rollback). */
  readonly postClosedAt?: string;
  /** When the half-way reminder was sent, so later passes of the sweep do not send it again. */
  readonly remindedAt?: string;
}

/** The seeds' skeleton: what a service gets when its config says nothing about checklists. */
export const DEFAULT_CHECKLISTS: ChecklistRules = {
  pre: [
    { text: 'Release notes reviewed', required: true },
    { text: 'Rollback plan confirmed', required: true },
    { text: 'Database migrations reviewed', required: false },
    { text: 'On-call engineer aware', required: false },
  ],
  post: [
    { text: 'Smoke test passed', required: true },
    { text: 'Dashboards and error rates checked', required: true },
    { text: 'Stakeholders told', required: false },
  ],
};

/** Per list: the release type's override, else the service's, else the skeleton. */
export function checklistRules(
  service: Partial<ChecklistRules> | undefined,
  type: Partial<ChecklistRules> | undefined,
): ChecklistRules {
  return {
    pre: type?.pre ?? service?.pre ?? DEFAULT_CHECKLISTS.pre,
    post: type?.post ?? service?.post ?? DEFAULT_CHECKLISTS.post,
  };
}

/** The checklist a new release starts with; undefined when both lists are empty. */
export function newChecklist(rules: ChecklistRules): Checklist | undefined {
  if (rules.pre.length === 0 && rules.post.length === 0) return undefined;
  // The text reaches answers, refusals and replies that are not escaped again: like text typed
  // in Slack, it cannot mention or link from there (the rule is idempotent, so cards stay as is).
  const items = (phase: ChecklistPhase) =>
    rules[phase].map((rule, i) => ({ ...rule, text: neutralise(rule.text), id: `${phase}-${i}` }));
  return { pre: items('pre'), post: items('post'), ticks: [] };
}

export function tickOf(checklist: Checklist, item: string): ChecklistTick | undefined {
  return checklist.ticks.find((t) => t.item === item);
}

/** Items of a phase nobody has ticked. */
export function openItems(release: Release, phase: ChecklistPhase): ChecklistItem[] {
  const checklist = release.checklist;
  if (checklist === undefined) return [];
  return checklist[phase].filter((item) => tickOf(checklist, item.id) === undefined);
}

/** The required pre-release items still unticked: Approve is refused while there are any. */
export function openRequired(release: Release): ChecklistItem[] {
  return openItems(release, 'pre').filter((item) => item.required);
}

/** Post-release items are tracked from the switch until all are ticked or the window ends. */
export function postTracking(release: Release): boolean {
  const checklist = release.checklist;
  return (
    checklist !== undefined &&
    checklist.post.length > 0 &&
    checklist.postClosedAt === undefined &&
    (release.state === 'observing' || release.state === 'released')
  );
}

/** `“Release notes reviewed”, “Rollback plan confirmed”` */
export function itemList(items: readonly ChecklistItem[]): string {
  return items.map((item) => `“${item.text}”`).join(', ');
}

/**
 * Why a tick on a checklist drawn at stage `drawn` no longer fits the release, or undefined when
 * it does. Pre-release items change only while the release waits for its decision (on a card
 * drawn then); post-release items while they are tracked.
 */
export function staleTick(
  phase: ChecklistPhase,
  drawn: string | undefined,
  release: Release,
): string | undefined {
  const what = `${release.service} ${release.version}`;
  if (phase === 'pre') {
    if (release.state !== 'awaiting_approval' || drawn?.split('.')[0] !== 'awaiting_approval')
      return `${what} no longer waits for a decision: its pre-release checklist is closed.`;
    return undefined;
  }
  if (!postTracking(release))
    return release.checklist?.postClosedAt !== undefined
      ? `${what}: its post-release checklist is closed.`
      : `${what} is not live: its post-release checklist is not tracked.`;
  return undefined;
}

/** The checklist in one line of a `--dry-run` plan. */
export function checklistPlan(checklist: Checklist | undefined): string {
  if (checklist === undefined) return 'Checklists: none.';
  const required = checklist.pre.filter((i) => i.required);
  const optional = checklist.pre.length - required.length;
  const before =
    checklist.pre.length === 0
      ? 'nothing to tick before Approve'
      : `${required.length > 0 ? `Approve counts once ${itemList(required)} ${required.length > 1 ? 'are' : 'is'} ticked` : 'Approve does not wait for any item'}${optional > 0 ? ` (${optional} optional)` : ''}`;
  const after =
    checklist.post.length === 0
      ? 'none after the switch'
      : `${checklist.post.length} after the switch, tracked until ticked or the rollback window ends`;
  return `Checklists: ${before}; ${after}.`;
}

/** `/release status`: the open pre-release items while the release waits, post while tracked. */
export function checklistStatusLine(release: Release): string | undefined {
  const phase =
    release.state === 'awaiting_approval' ? 'pre' : postTracking(release) ? 'post' : undefined;
  if (phase === undefined) return undefined;
  const open = openItems(release, phase);
  if (open.length === 0) return undefined;
  const each = open.map((item) => {
    const owners = (item.owner ?? []).map(mention);
    const notes = [...(phase === 'pre' && item.required ? ['required'] : []), ...owners];
    return `“${item.text}”${notes.length > 0 ? ` (${notes.join(', ')})` : ''}`;
  });
  return `Checklist ${phase === 'pre' ? 'before' : 'after'} release, still open: ${each.join(', ')}`;
}

/**
 * A rollback ends the tracking of post-release items (the release is no longer live): the
 * checklist closed at `at`, and the words the rollback's thread line adds, or undefined when
 * nothing was tracked.
 */
export function endedByRollback(
  release: Release,
  at: string,
): { checklist: Checklist; words: string } | undefined {
  const checklist = release.checklist;
  if (checklist === undefined || !postTracking(release)) return undefined;
  // Tracked means some item is still open: the last tick closes tracking.
  return {
    checklist: { ...checklist, postClosedAt: at },
    words: `Post-release checklist: tracking ended by the rollback; never ticked: ${itemList(openItems(release, 'post'))}`,
  };
}
