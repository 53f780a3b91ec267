import type { App, BlockButtonAction } from '@slack/bolt';
import type { WebClient } from '@slack/web-api';
import type { Answer } from '../../app/answer.ts';
import type { ReleaseButton } from '../../app/dispatch-action.ts';
import { ReleaseError } from '../../app/release-error.ts';
import type { Release } from '../../domain/release.ts';
import type { AppLogger } from '../../logger.ts';
import type { SlackMessage } from './blocks/block-kit.ts';
import { answerMessage, refusalAnswer } from './blocks/private-answers.ts';
import { ACTIONS, REJECT_MODAL, rejectModal } from './blocks/release-messages.ts';
import { ephemeral } from './command-listeners.ts';

/** Runs the use case behind a button; the value is the release id the button was rendered for. */
export type ActionDispatcher = (
  button: ReleaseButton,
  releaseId: string,
  userId: string,
  reason?: string,
) => Promise<Answer>;

const RELEASE_ID = /^[A-Za-z0-9_.-]{1,100}$/;
const BUTTONS: Record<string, ReleaseButton> = {
  [ACTIONS.approve]: 'approve',
  [ACTIONS.rollback]: 'rollback',
  [ACTIONS.approveRollback]: 'approve_rollback',
  [ACTIONS.promote]: 'promote',
  [ACTIONS.pause]: 'pause',
  [ACTIONS.resume]: 'resume',
  [ACTIONS.abort]: 'abort',
};

async function answerFor(
  deps: { dispatch: ActionDispatcher; logger: AppLogger },
  run: () => Promise<Answer>,
  context: Record<string, unknown>,
): Promise<SlackMessage> {
  try {
    return answerMessage(await run());
  } catch (error) {
    if (error instanceof ReleaseError) return refusalAnswer(error.message, error.hint);
    deps.logger.error({ err: error, ...context }, 'button failed');
    return refusalAnswer(
      'Sorry, that failed unexpectedly. Nothing was changed.',
      'Try again; the operators can find details in the logs.',
    );
  }
}

/**
 * The release buttons and the reject modal. Each acks at once, then runs one use case and answers
 * the clicker privately (never replacing the release message, which the outbox keeps current).
 */
export function registerActionListeners(
  app: App,
  deps: {
    dispatch: ActionDispatcher;
    getRelease: (id: string) => Promise<Release | null>;
    client: WebClient;
    logger: AppLogger;
  },
): void {
  // Slack always sends a user and a list of actions; a payload without them (forged, or mangled
  // on the way) is acknowledged and dropped instead of failing deep inside a listener.
  app.use(async ({ body, next, ack }) => {
    const b = body as {
      type?: unknown;
      user?: { id?: unknown };
      actions?: unknown;
      view?: unknown;
    };
    const interactive = b.type === 'block_actions' || b.type === 'view_submission';
    const wellFormed =
      typeof b.user?.id === 'string' &&
      (b.type !== 'block_actions' || (Array.isArray(b.actions) && b.actions.length > 0)) &&
      (b.type !== 'view_submission' || (typeof b.view === 'object' && b.view !== null));
    if (interactive && !wellFormed) {
      await (ack as (() => Promise<void>) | undefined)?.();
      return;
    }
    await next();
  });

  for (const [actionId, name] of Object.entries(BUTTONS)) {
    app.action<BlockButtonAction>(actionId, async ({ ack, body, action, respond }) => {
      await ack();
      const valid = typeof action.value === 'string' && RELEASE_ID.test(action.value);
      const answer = valid
        ? await answerFor(deps, () => deps.dispatch(name, action.value ?? '', body.user.id), {
            action: actionId,
            user: body.user.id,
          })
        : refusalAnswer(
            'This button is not one Greenlight made.',
            'Use the buttons on a release message.',
          );
      await respond({ ...ephemeral(answer), replace_original: false }).catch((error: unknown) =>
        deps.logger.warn({ err: error }, 'could not answer a button click'),
      );
    });
  }

  // Any other action id: not a button Greenlight made (an old message, or a forged payload).
  app.action(/^(?!release_).*/, async ({ ack, respond }) => {
    await ack();
    await respond({
      ...ephemeral(
        refusalAnswer(
          'This button is not one Greenlight knows.',
          'Use the buttons on a current release message.',
        ),
      ),
      replace_original: false,
    }).catch(() => undefined);
  });

  // Reject asks why first: a modal, opened within the 3 s the trigger id lives.
  app.action<BlockButtonAction>(ACTIONS.reject, async ({ ack, body, action, respond }) => {
    await ack();
    const releaseId = action.value ?? '';
    const release = RELEASE_ID.test(releaseId) ? await deps.getRelease(releaseId) : null;
    const problem =
      release === null
        ? refusalAnswer(
            'This button is not one Greenlight made.',
            'Use the buttons on a release message.',
          )
        : release.state !== 'awaiting_approval'
          ? refusalAnswer(
              `${release.service} ${release.version} is no longer waiting for a decision.`,
              `See /release status ${release.service}.`,
            )
          : undefined;
    if (problem !== undefined || release === null) {
      await respond({
        ...ephemeral(problem ?? refusalAnswer('Unknown release.', '')),
        replace_original: false,
      });
      return;
    }
    try {
      await deps.client.views.open({
        trigger_id: body.trigger_id,
        view: rejectModal(release, body.channel?.id ?? '') as never,
      });
    } catch (error) {
      deps.logger.warn({ err: error }, 'could not open the reject modal');
      await respond({
        ...ephemeral(refusalAnswer('Slack did not open the reject form.', 'Click Reject again.')),
        replace_original: false,
      });
    }
  });

  app.view(REJECT_MODAL, async ({ ack, view, body }) => {
    const reason = view.state.values.reason?.reason_input?.value?.trim() ?? '';
    if (reason.length < 3) {
      await ack({
        response_action: 'errors',
        errors: { reason: 'Say why the release is rejected.' },
      });
      return;
    }
    await ack();
    let meta: { releaseId?: string; channel?: string } = {};
    try {
      meta = JSON.parse(view.private_metadata) as typeof meta;
    } catch {
      // answered below as an unknown release
    }
    const answer = await answerFor(
      deps,
      () => deps.dispatch('reject', meta.releaseId ?? '', body.user.id, reason),
      {
        view: REJECT_MODAL,
        user: body.user.id,
      },
    );
    if (meta.channel) {
      await deps.client.chat
        .postEphemeral({
          channel: meta.channel,
          user: body.user.id,
          text: answer.text,
          blocks: answer.blocks as never,
        })
        .catch((error: unknown) =>
          deps.logger.warn({ err: error }, 'could not confirm the rejection'),
        );
    }
  });
}
