import { type ChecklistTick, itemList, openItems, postTracking, tickOf } from './checklist.ts';
import { type EventOf, TransitionRefused } from './release-events.ts';
import { refuse, type Step, type Transitioned } from './transition-step.ts';

/** Checklist boxes ticked or unticked, and the end of post-release tracking. */

export function tick(step: Step, event: EventOf<'tick'>): Transitioned {
  const { release, at, next } = step;
  const checklist = release.checklist;
  if (checklist === undefined || checklist[event.phase].length === 0)
    throw new TransitionRefused(
      'illegal_transition',
      `${release.service} ${release.version} has no ${event.phase === 'pre' ? 'pre' : 'post'}-release checklist.`,
    );
  if (event.phase === 'pre' && release.state !== 'awaiting_approval') refuse(release, event);
  if (event.phase === 'post' && !postTracking(release)) {
    throw new TransitionRefused(
      checklist.postClosedAt !== undefined ? 'release_ended' : 'illegal_transition',
      `${release.service} ${release.version}: its post-release checklist is not open.`,
    );
  }
  const items = checklist[event.phase];
  let ticks: readonly ChecklistTick[] = checklist.ticks;
  const said: string[] = [];
  for (const change of event.changes) {
    const item = items.find((i) => i.id === change.item);
    if (item === undefined)
      throw new TransitionRefused('illegal_transition', 'That item is not on this checklist.');
    const ticked = tickOf({ ...checklist, ticks }, item.id) !== undefined;
    // Boxes already as asked (someone else got there first) change nothing.
    if (change.ticked === ticked) continue;
    ticks = change.ticked
      ? [...ticks, { item: item.id, by: event.user, at }]
      : ticks.filter((t) => t.item !== item.id);
    said.push(`${change.ticked ? 'ticked' : 'unticked'} “${item.text}”`);
  }
  if (said.length === 0) return { release, effects: [] };
  const updated = { ...checklist, ticks };
  const done =
    event.phase === 'post' && openItems({ ...release, checklist: updated }, 'post').length === 0;
  return {
    release: next(
      { checklist: done ? { ...updated, postClosedAt: at } : updated },
      event.user,
      `${said.join(', ')}${event.phase === 'post' ? ' (after release)' : ''}${done ? '; every post-release item is ticked' : ''}`,
    ),
    effects: [],
  };
}

export function closeChecklist(
  { release, at, next }: Step,
  event: EventOf<'close_checklist'>,
): Transitioned {
  const checklist = release.checklist;
  if (checklist === undefined || !postTracking(release)) return { release, effects: [] };
  const open = openItems(release, 'post');
  const why =
    event.supersededBy !== undefined
      ? `superseded by ${event.supersededBy}`
      : 'rollback window ended';
  return {
    release: next(
      { checklist: { ...checklist, postClosedAt: at } },
      'greenlight',
      open.length > 0
        ? `${why}; post-release items never ticked: ${itemList(open)}`
        : `${why}; every post-release item was ticked`,
    ),
    effects: [],
  };
}

/** Recorded without a timeline line: the reminder itself is the thread's news. */
export function checklistReminded(
  { release, at, quietly }: Step,
  _event: EventOf<'checklist_reminded'>,
): Transitioned {
  const checklist = release.checklist;
  if (checklist === undefined || !postTracking(release) || checklist.remindedAt !== undefined)
    return { release, effects: [] };
  return { release: quietly({ checklist: { ...checklist, remindedAt: at } }), effects: [] };
}
