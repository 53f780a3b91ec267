import type { App, BlockAction, CheckboxesAction } from '@slack/bolt';
import type { Answer } from '../../app/answer.ts';
import { ReleaseError } from '../../app/release-error.ts';
import type { TickClick } from '../../app/use-cases/tick-checklist.ts';
import type { AppLogger } from '../../logger.ts';
import type { SlackMessage } from './blocks/block-kit.ts';
import {
  CHECKLIST_ACTIONS,
  OPTIONS_PER_ELEMENT,
  parseChecklistBlockId,
} from './blocks/checklist-blocks.ts';
import { answerMessage, refusalAnswer } from './blocks/private-answers.ts';
import { ephemeral } from './command-listeners.ts';

const ITEM_ID = /^(pre|post)-\d{1,3}$/;

/**
 * The checklists' boxes. Slack sends a checkboxes element's whole selection on every change; the
 * block_id says which release, stage and part of the list it was drawn for and what was ticked
 * then, so the use case applies only the boxes this person changed. Answered privately.
 */
export function registerChecklistListeners(
  app: App,
  deps: {
    tick: (releaseId: string, click: TickClick) => Promise<Answer>;
    logger: AppLogger;
  },
): void {
  for (const phase of ['pre', 'post'] as const) {
    app.action<BlockAction<CheckboxesAction>>(
      CHECKLIST_ACTIONS[phase],
      async ({ ack, body, action, respond }) => {
        await ack();
        const fence = parseChecklistBlockId(action.block_id);
        const selected = (action.selected_options ?? [])
          .map((o) => o.value)
          .filter((v): v is string => typeof v === 'string' && ITEM_ID.test(v));
        let answer: SlackMessage;
        if (fence === undefined || fence.phase !== phase) {
          answer = refusalAnswer(
            'This checklist is not one Greenlight made.',
            'Use the checklist on a release message.',
          );
        } else {
          // The part's item ids follow from its number: items are fixed when a release starts.
          const shown = Array.from(
            { length: OPTIONS_PER_ELEMENT },
            (_, i) => `${phase}-${fence.part * OPTIONS_PER_ELEMENT + i}`,
          );
          const teamId = body.user.team_id ?? body.team?.id;
          const click: TickClick = {
            user: body.user.id,
            ...(body.channel?.id ? { channel: body.channel.id } : {}),
            ...(teamId ? { teamId } : {}),
            ...(body.enterprise?.id ? { enterpriseId: body.enterprise.id } : {}),
            stage: fence.stage,
            phase,
            shown: shown.filter((id) => selected.includes(id) || isDrawn(fence, id)),
            drawnTicked: shown.filter((id) => isDrawn(fence, id)),
            selected,
          };
          try {
            answer = answerMessage(await deps.tick(fence.releaseId, click));
          } catch (error) {
            if (error instanceof ReleaseError) answer = refusalAnswer(error.message, error.hint);
            else {
              deps.logger.error({ err: error, action: action.action_id }, 'checklist click failed');
              answer = refusalAnswer(
                'Sorry, that failed unexpectedly. Nothing was changed.',
                'Try again; the operators can find details in the logs.',
              );
            }
          }
        }
        await respond({ ...ephemeral(answer), replace_original: false }).catch((error: unknown) =>
          deps.logger.warn({ err: error }, 'could not answer a checklist click'),
        );
      },
    );
  }
}

/** Whether item `id` was ticked when its part was drawn (bit i of the mask: item i of the part). */
function isDrawn(fence: { part: number; mask: number }, id: string): boolean {
  const index = Number(id.split('-')[1]) - fence.part * OPTIONS_PER_ELEMENT;
  return index >= 0 && index < OPTIONS_PER_ELEMENT && (fence.mask & (1 << index)) !== 0;
}
