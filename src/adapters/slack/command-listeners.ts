import type { App, RespondArguments } from '@slack/bolt';
import type { Answer } from '../../app/answer.ts';
import type { CommandContext, CommandRequest } from '../../app/command-requests.ts';
import { ReleaseError } from '../../app/release-error.ts';
import type { CommandName } from '../../config/greenlight-schema.ts';
import { userText } from '../../domain/user-text.ts';
import type { AppLogger } from '../../logger.ts';
import type { SlackMessage } from './blocks/block-kit.ts';
import {
  ROLLBACK_REASON_MODAL,
  readRollbackReasonMeta,
  rollbackReasonModal,
} from './blocks/modals.ts';
import {
  answerMessage,
  apologyAnswer,
  helpAnswer,
  refusalAnswer,
  usageAnswer,
} from './blocks/private-answers.ts';
import { parseCommand } from './command-args.ts';

export const COMMANDS: readonly CommandName[] = ['bump', 'release', 'sync', 'rollback', 'flag'];

/** Runs one use case for a parsed request and returns the private answer to show. */
export type CommandDispatcher = (
  request: CommandRequest,
  context: CommandContext,
) => Promise<Answer>;

export interface CommandListenerDeps {
  readonly services: readonly string[];
  readonly dispatch: CommandDispatcher;
  readonly logger: AppLogger;
  /** Counts commands by name and outcome; the composition root points it at /metrics. */
  readonly onCommand?: (command: CommandName, outcome: 'answered' | 'refused' | 'failed') => void;
}

export const ephemeral = (message: SlackMessage): RespondArguments => ({
  response_type: 'ephemeral',
  text: message.text,
  blocks: message.blocks,
});

/**
 * Registers the slash commands. Each listener parses, acks within Slack's 3 seconds
 * (with the answer itself when it needs no I/O), then runs one use case and answers privately.
 */
export function registerCommandListeners(app: App, deps: CommandListenerDeps): void {
  for (const name of COMMANDS) {
    app.command(`/${name}`, async ({ command, ack, respond, client }) => {
      const parsed = parseCommand(name, command.text ?? '', deps.services);
      if (!parsed.ok) {
        deps.onCommand?.(name, 'refused');
        await ack(ephemeral(usageAnswer(name, parsed.problem, deps.services)));
        return;
      }
      if (parsed.request.kind === 'release-help') {
        deps.onCommand?.(name, 'answered');
        await ack(ephemeral(helpAnswer(deps.services)));
        return;
      }
      await ack();
      const context: CommandContext = {
        command: name,
        userId: command.user_id,
        channelId: command.channel_id,
        text: command.text ?? '',
      };
      let answer: SlackMessage;
      try {
        answer = answerMessage(await deps.dispatch(parsed.request, context));
        deps.onCommand?.(name, 'answered');
      } catch (error) {
        if (
          error instanceof ReleaseError &&
          error.code === 'needs_reason' &&
          parsed.request.kind === 'rollback'
        ) {
          const meta = { service: parsed.request.service, channel: command.channel_id };
          const opened = await client.views
            .open({
              trigger_id: command.trigger_id,
              view: rollbackReasonModal(meta, error.message),
            })
            .then(
              () => true,
              (failure: unknown) => {
                deps.logger.warn({ err: failure }, 'could not open the rollback reason form');
                return false;
              },
            );
          deps.onCommand?.(name, 'answered');
          // The form is the answer; without it, the refusal says how to give the reason inline.
          if (opened) return;
        }
        if (error instanceof ReleaseError) {
          deps.onCommand?.(name, 'refused');
          answer = refusalAnswer(error.message, error.hint);
        } else {
          deps.onCommand?.(name, 'failed');
          deps.logger.error({ err: error, command: name, user: command.user_id }, 'command failed');
          answer = apologyAnswer(parsed.request);
        }
      }
      await respond(ephemeral(answer));
    });
  }

  app.view(ROLLBACK_REASON_MODAL, async ({ ack, view, body, client }) => {
    const reason = userText(view.state.values.reason?.reason_input?.value ?? '');
    if (reason.length < 3) {
      await ack({ response_action: 'errors', errors: { reason: 'Say why you roll back.' } });
      return;
    }
    const meta = readRollbackReasonMeta(view.private_metadata);
    await ack();
    if (meta === null || !deps.services.includes(meta.service)) return;
    const context: CommandContext = {
      command: 'rollback',
      userId: body.user.id,
      channelId: meta.channel,
      text: `${meta.service} ${reason}`,
    };
    let answer: SlackMessage;
    try {
      answer = answerMessage(
        await deps.dispatch(
          { kind: 'rollback', service: meta.service, reason, dryRun: false },
          context,
        ),
      );
      deps.onCommand?.('rollback', 'answered');
    } catch (error) {
      if (error instanceof ReleaseError) {
        deps.onCommand?.('rollback', 'refused');
        answer = refusalAnswer(error.message, error.hint);
      } else {
        deps.onCommand?.('rollback', 'failed');
        deps.logger.error({ err: error, user: body.user.id }, 'rollback from the form failed');
        answer = apologyAnswer({ kind: 'rollback', service: meta.service, dryRun: false });
      }
    }
    await client.chat
      .postEphemeral({
        channel: meta.channel,
        user: body.user.id,
        text: answer.text,
        blocks: answer.blocks,
      })
      .catch((error: unknown) => deps.logger.warn({ err: error }, 'could not answer the form'));
  });
}
