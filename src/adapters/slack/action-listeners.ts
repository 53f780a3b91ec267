import type { App, BlockButtonAction } from '@slack/bolt';
import type { WebClient } from '@slack/web-api';
import type { Answer } from '../../app/answer.ts';
import type { Click, ReleaseButton } from '../../app/dispatch-action.ts';
import { ReleaseError } from '../../app/release-error.ts';
import { parseFenceValue } from '../../domain/click-fence.ts';
import type { Release } from '../../domain/release.ts';
import { userText } from '../../domain/user-text.ts';
import type { AppLogger } from '../../logger.ts';
import type { SlackMessage } from './blocks/block-kit.ts';
import { REJECT_MODAL, rejectModal } from './blocks/modals.ts';
import { answerMessage, refusalAnswer } from './blocks/private-answers.ts';
import { ACTIONS } from './blocks/release-card.ts';
import { ephemeral } from './command-listeners.ts';

/** Runs the use case behind a button, for the release and stage its value names. */
export type ActionDispatcher = (
  button: ReleaseButton,
  releaseId: string,
  click: Click,
) => Promise<Answer>;

const RELEASE_ID = /^[A-Za-z0-9_.-]{1,100}$/;
const STAGE =
  /^[a-z_]{1,30}(\.-?\d{1,3})?(\.h\d{1,12})?(\.a)?(\.p\d{1,12})?(\.s\d{1,3}(\.r\d{1,12})?)?$/;

/** A button value as Greenlight draws it (`<release id>:<stage>`), or undefined if forged. */
function readValue(value: string | undefined): { releaseId: string; stage?: string } | undefined {
  if (typeof value !== 'string') return undefined;
  const parsed = parseFenceValue(value);
  if (!RELEASE_ID.test(parsed.releaseId)) return undefined;
  if (parsed.stage !== undefined && !STAGE.test(parsed.stage)) return undefined;
  return parsed;
}

/** Where a block_actions payload came from. */
function originOf(body: unknown) {
  const b = body as {
    team?: { id?: string } | null;
    enterprise?: { id?: string } | null;
    user?: { team_id?: string };
  };
  // In a Slack Connect channel `team` is the app's workspace; the clicker's is on the user.
  const teamId = b.user?.team_id ?? b.team?.id;
  return {
    ...(teamId ? { teamId } : {}),
    ...(b.enterprise?.id ? { enterpriseId: b.enterprise.id } : {}),
  };
}
const BUTTONS: Record<string, ReleaseButton> = {
  [ACTIONS.approve]: 'approve',
  [ACTIONS.rollback]: 'rollback',
  [ACTIONS.approveRollback]: 'approve_rollback',
  [ACTIONS.promote]: 'promote',
  [ACTIONS.pause]: 'pause',
  [ACTIONS.resume]: 'resume',
  [ACTIONS.abort]: 'abort',
  [ACTIONS.approveStep]: 'approve_step',
  [ACTIONS.stepCompleted]: 'step_completed',
  [ACTIONS.stepNotCompleted]: 'step_not_completed',
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
    /** The checks of a click without acting on it (before a modal opens). */
    check: (button: ReleaseButton, release: Release, click: Click) => Promise<void>;
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
      const value = readValue(action.value);
      const click: Click = {
        user: body.user.id,
        ...(body.channel?.id ? { channel: body.channel.id } : {}),
        ...originOf(body),
        ...(value?.stage ? { stage: value.stage } : {}),
      };
      const answer = value
        ? await answerFor(deps, () => deps.dispatch(name, value.releaseId, click), {
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
    const value = readValue(action.value);
    const release = value ? await deps.getRelease(value.releaseId) : null;
    const click: Click = {
      user: body.user.id,
      ...(body.channel?.id ? { channel: body.channel.id } : {}),
      ...originOf(body),
      ...(value?.stage ? { stage: value.stage } : {}),
    };
    let problem: SlackMessage | undefined =
      release === null
        ? refusalAnswer(
            'This button is not one Greenlight made.',
            'Use the buttons on a release message.',
          )
        : undefined;
    if (release !== null) {
      // Refused before the form opens: nobody types a reason that cannot count.
      try {
        await deps.check('reject', release, click);
      } catch (error) {
        problem =
          error instanceof ReleaseError
            ? refusalAnswer(error.message, error.hint)
            : refusalAnswer('Sorry, that failed unexpectedly.', 'Try again.');
      }
    }
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
        view: rejectModal(release, body.channel?.id ?? '', value?.stage),
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
    const reason = userText(view.state.values.reason?.reason_input?.value ?? '');
    if (reason.length < 3) {
      await ack({
        response_action: 'errors',
        errors: { reason: 'Say why the release is rejected.' },
      });
      return;
    }
    await ack();
    let meta: { releaseId?: string; channel?: string; stage?: string } = {};
    try {
      meta = JSON.parse(view.private_metadata) as typeof meta;
    } catch {
      // answered below as an unknown release
    }
    const answer = await answerFor(
      deps,
      () =>
        deps.dispatch('reject', meta.releaseId ?? '', {
          user: body.user.id,
          ...(meta.channel ? { channel: meta.channel } : {}),
          ...originOf(body),
          ...(meta.stage ? { stage: meta.stage } : {}),
          reason,
        }),
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
          blocks: answer.blocks,
        })
        .catch((error: unknown) =>
          deps.logger.warn({ err: error }, 'could not confirm the rejection'),
        );
    }
  });
}
