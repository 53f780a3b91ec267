import type { App, BlockButtonAction } from '@slack/bolt';
import type { Answer } from '../../app/answer.ts';
import { ReleaseError } from '../../app/release-error.ts';
import type { AppLogger } from '../../logger.ts';
import { answerMessage, refusalAnswer } from './blocks/private-answers.ts';
import { ACTIONS } from './blocks/release-messages.ts';
import { ephemeral } from './command-listeners.ts';

export type ButtonName = keyof typeof ACTIONS;

/** Runs the use case behind a button; the value is the release id the button was rendered for. */
export type ActionDispatcher = (
  button: ButtonName,
  releaseId: string,
  userId: string,
) => Promise<Answer>;

const RELEASE_ID = /^[A-Za-z0-9_.-]{1,100}$/;

/**
 * The release buttons. Each acks at once, then runs one use case and answers the clicker
 * privately (never replacing the release message, which the outbox keeps current).
 */
export function registerActionListeners(
  app: App,
  deps: {
    dispatch: ActionDispatcher;
    logger: AppLogger;
    onAction?: (button: ButtonName, outcome: string) => void;
  },
): void {
  for (const [name, actionId] of Object.entries(ACTIONS) as [ButtonName, string][]) {
    app.action<BlockButtonAction>(actionId, async ({ ack, body, action, respond }) => {
      await ack();
      const reply = async (answer: ReturnType<typeof answerMessage>) =>
        respond({ ...ephemeral(answer), replace_original: false }).catch((error: unknown) =>
          deps.logger.warn({ err: error }, 'could not answer a button click'),
        );
      if (typeof action.value !== 'string' || !RELEASE_ID.test(action.value)) {
        deps.onAction?.(name, 'refused');
        await reply(
          refusalAnswer(
            'This button is not one Greenlight made.',
            'Use the buttons on a release message.',
          ),
        );
        return;
      }
      try {
        const answer = await deps.dispatch(name, action.value, body.user.id);
        deps.onAction?.(name, 'answered');
        await reply(answerMessage(answer));
      } catch (error) {
        if (error instanceof ReleaseError) {
          deps.onAction?.(name, 'refused');
          await reply(refusalAnswer(error.message, error.hint));
          return;
        }
        deps.onAction?.(name, 'failed');
        deps.logger.error({ err: error, action: actionId, user: body.user.id }, 'button failed');
        await reply(
          refusalAnswer(
            'Sorry, that failed unexpectedly. Nothing was changed.',
            'Try again; the operators can find details in the logs.',
          ),
        );
      }
    });
  }
}
