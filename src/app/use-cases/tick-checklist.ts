import {
  type ChecklistItem,
  type ChecklistPhase,
  itemList,
  openItems,
  openRequired,
  staleTick,
} from '../../domain/checklist.ts';
import type { Release } from '../../domain/release.ts';
import type { Answer } from '../answer.ts';
import { audit, type EventPorts, serviceConfig, type Uses } from '../app-deps.ts';
import { auditRefusedClick } from '../click-audit.ts';
import { type Click, checkOrigin } from '../dispatch-action.ts';
import { ReleaseError } from '../release-error.ts';
import { runEvent } from '../release-runner.ts';

/** A click on a checklist's boxes, as Slack reports it: the whole element's selection. */
export interface TickClick extends Click {
  readonly phase: ChecklistPhase;
  /** The item ids of the element clicked, and which of them it showed ticked when drawn. */
  readonly shown: readonly string[];
  readonly drawnTicked: readonly string[];
  /** The items selected in that element now (Slack's `selected_options`). */
  readonly selected: readonly string[];
}

/**
 * The requester, anyone in a role the release needs, a listed operator and, for post-release
 * items, their owners: the people who answer for the release.
 */
async function mayTick(
  deps: Uses<'config' | 'directory'>,
  release: Release,
  user: string,
  items: readonly ChecklistItem[],
): Promise<void> {
  if (user === release.requester) return;
  const principals = release.requiredRoles.flatMap((role) => deps.config.roles[role] ?? []);
  const operators = serviceConfig(deps, release.service).operators;
  const listed = Array.isArray(operators) ? operators : (operators?.release ?? []);
  if ((await deps.directory.members([...principals, ...listed])).includes(user)) return;
  // An owner answers for their own items: owning one does not let a click change another.
  let owns = items.length > 0;
  for (const item of items)
    owns &&= (await deps.directory.members(item.owner ?? [])).includes(user);
  if (owns) return;
  throw new ReleaseError(
    'not_allowed',
    `Only the requester (<@${release.requester}>), an approver (${release.requiredRoles.join(', ') || 'none'}), an operator${items.some((i) => i.owner) ? ' or the item’s owner' : ''} can tick the checklist of ${release.service} ${release.version}.`,
    'Ask one of them; nothing was changed.',
  );
}

async function tick(
  deps: Uses<EventPorts | 'comms' | 'directory'>,
  release: Release,
  click: TickClick,
): Promise<Answer> {
  checkOrigin(deps, release, click);
  const stale = staleTick(click.phase, click.stage, release);
  if (stale !== undefined)
    throw new ReleaseError(
      'stale',
      stale,
      `Nothing was changed. See /release status ${release.service}.`,
    );
  const items = release.checklist?.[click.phase] ?? [];
  // Only the boxes this person changed on the message they saw: a stale copy of the message
  // cannot untick what someone else ticked since it was drawn.
  const changes = click.shown
    .filter((id) => click.selected.includes(id) !== click.drawnTicked.includes(id))
    .map((id) => ({ item: id, ticked: click.selected.includes(id) }));
  const changed = items.filter((item) => changes.some((c) => c.item === item.id));
  if (changed.length !== changes.length)
    throw new ReleaseError(
      'stale',
      'That checklist item is not on this release.',
      'Use the checklist on the current release message.',
    );
  await mayTick(deps, release, click.user, changed);
  if (changes.length === 0) return { message: 'Nothing changed on the checklist.' };
  const applied = await runEvent(deps, release.id, {
    type: 'tick',
    user: click.user,
    phase: click.phase,
    changes,
  });
  // Every box was already as asked (a repeated delivery, or someone else was first).
  if (!applied.noted)
    return { message: 'Nothing changed on the checklist: it already showed that.' };
  const after = applied.release;
  // Only what this click changed: a box someone else had already set the same way is theirs.
  const isTicked = (r: Release, item: string) =>
    r.checklist?.ticks.some((t) => t.item === item) === true;
  const effective = changes.filter(
    (c) => isTicked(applied.before, c.item) !== isTicked(after, c.item),
  );
  for (const change of effective) {
    const item = changed.find((i) => i.id === change.item);
    await audit(deps, {
      who: click.user,
      what: `${change.ticked ? 'ticked' : 'unticked'} ${click.phase}-release checklist item “${item?.text}”`,
      service: release.service,
      releaseId: release.id,
      after: {
        phase: click.phase,
        item: change.item,
        ticked: change.ticked,
        at: deps.clock.now().toISOString(),
        revision: after.revision,
      },
    });
  }
  const words = effective
    .map(
      (c) => `${c.ticked ? 'ticked' : 'unticked'} “${changed.find((i) => i.id === c.item)?.text}”`,
    )
    .join(', ');
  if (click.phase === 'pre') {
    const open = openRequired(after);
    return {
      message: `You ${words}.`,
      hint:
        open.length > 0
          ? `Still required before Approve counts: ${itemList(open)}.`
          : 'Every required item is ticked: Approve counts now.',
    };
  }
  const open = openItems(after, 'post');
  return {
    message: `You ${words}.`,
    hint: open.length > 0 ? `Still open: ${itemList(open)}.` : 'Every post-release item is ticked.',
  };
}

/** A checklist click: checked like a button (origin, stage, clicker), applied, audited. */
export async function tickChecklist(
  deps: Uses<EventPorts | 'comms' | 'directory'>,
  releaseId: string,
  click: TickClick,
): Promise<Answer> {
  const release = await deps.store.getRelease(releaseId);
  try {
    if (release === null)
      throw new ReleaseError(
        'not_available',
        'This release no longer exists.',
        'See /release status.',
      );
    return await tick(deps, release, click);
  } catch (error) {
    await auditRefusedClick(
      deps,
      { who: click.user, what: `clicked the ${click.phase}-release checklist`, releaseId, release },
      error,
    );
    throw error;
  }
}
