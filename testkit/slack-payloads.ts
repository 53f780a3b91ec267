/**
 * Builders for the requests Slack sends to an app, in Slack's own shapes: field order and
 * encoding of `test/support/fixtures/slack/slash-command.txt`, and the `block_actions` payload of
 * `test/support/fixtures/slack/block-actions.message-with-blocks.json`.
 */

export interface SlashCommandFields {
  command: string;
  text?: string;
  user_id?: string;
  user_name?: string;
  channel_id?: string;
  channel_name?: string;
  response_url: string;
  trigger_id?: string;
  team_id?: string;
}

let triggerCounter = 0;
export const nextTriggerId = () =>
  `${Date.now()}.${++triggerCounter}.${Math.random().toString(16).slice(2, 18)}`;

/** A slash-command body exactly as Slack puts it on the wire (form-encoded, one line). */
export function slashCommandBody(fields: SlashCommandFields): string {
  const ordered: [string, string][] = [
    ['token', 'legacy-verification-token'],
    ['team_id', fields.team_id ?? 'T0GREEN'],
    ['team_domain', 'greenlight-test'],
    ['channel_id', fields.channel_id ?? 'C0RELEASES'],
    ['channel_name', fields.channel_name ?? 'releases'],
    ['user_id', fields.user_id ?? 'U0DEV1'],
    ['user_name', fields.user_name ?? 'dev1'],
    ['command', fields.command],
    ['text', fields.text ?? ''],
    ['api_app_id', 'A0GREENLIGHT'],
    ['is_enterprise_install', 'false'],
    ['response_url', fields.response_url],
    ['trigger_id', fields.trigger_id ?? nextTriggerId()],
  ];
  return new URLSearchParams(ordered).toString();
}

export interface ButtonClick {
  action_id: string;
  value: string;
  user_id?: string;
  channel_id?: string;
  message_ts: string;
  /** The message the button sits in, as Slack echoes it back. */
  message_text?: string;
  message_blocks?: unknown[];
  response_url: string;
  block_id?: string;
  text?: string;
}

/** A `block_actions` payload for a button in a channel message. */
export function blockActionsPayload(click: ButtonClick): Record<string, unknown> {
  const channel = click.channel_id ?? 'C0RELEASES';
  return {
    type: 'block_actions',
    user: { id: click.user_id ?? 'U0LEAD', username: 'user', name: 'user', team_id: 'T0GREEN' },
    api_app_id: 'A0GREENLIGHT',
    token: 'legacy-verification-token',
    container: {
      type: 'message',
      message_ts: click.message_ts,
      channel_id: channel,
      is_ephemeral: false,
    },
    trigger_id: nextTriggerId(),
    team: { id: 'T0GREEN', domain: 'greenlight-test' },
    enterprise: null,
    is_enterprise_install: false,
    channel: { id: channel, name: 'releases' },
    message: {
      bot_id: 'B0GREENLIGHT',
      type: 'message',
      text: click.message_text ?? '',
      user: 'U0GREENBOT',
      ts: click.message_ts,
      app_id: 'A0GREENLIGHT',
      blocks: click.message_blocks ?? [],
      team: 'T0GREEN',
    },
    state: { values: {} },
    response_url: click.response_url,
    actions: [
      {
        action_id: click.action_id,
        block_id: click.block_id ?? 'actions',
        text: { type: 'plain_text', text: click.text ?? click.action_id, emoji: true },
        value: click.value,
        type: 'button',
        action_ts: (Date.now() / 1000).toFixed(6),
      },
    ],
  };
}

/** Interactivity requests carry the JSON as one form field, `payload`. */
export function interactionBody(payload: Record<string, unknown>): string {
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}

/**
 * A `view_submission` for a modal Greenlight opened (as recorded by the emulator's views.open),
 * with the user's input: `values[block_id][action_id] = text`.
 */
export function viewSubmissionPayload(
  view: Record<string, unknown>,
  userId: string,
  values: Record<string, Record<string, string>>,
): Record<string, unknown> {
  const state = Object.fromEntries(
    Object.entries(values).map(([block, actions]) => [
      block,
      Object.fromEntries(
        Object.entries(actions).map(([action, value]) => [
          action,
          { type: 'plain_text_input', value },
        ]),
      ),
    ]),
  );
  return {
    type: 'view_submission',
    team: { id: 'T0GREEN', domain: 'greenlight-test' },
    user: { id: userId, username: 'user', name: 'user', team_id: 'T0GREEN' },
    api_app_id: 'A0GREENLIGHT',
    token: 'legacy-verification-token',
    trigger_id: nextTriggerId(),
    view: {
      id: view.id ?? 'V00000001',
      team_id: 'T0GREEN',
      type: 'modal',
      blocks: view.blocks ?? [],
      private_metadata: view.private_metadata ?? '',
      callback_id: view.callback_id ?? '',
      state: { values: state },
      hash: '1.abc',
      title: view.title ?? { type: 'plain_text', text: 'Greenlight' },
      clear_on_close: false,
      notify_on_close: false,
      close: view.close ?? null,
      submit: view.submit ?? null,
      previous_view_id: null,
      root_view_id: view.id ?? 'V00000001',
      app_id: 'A0GREENLIGHT',
      external_id: '',
      app_installed_team_id: 'T0GREEN',
      bot_id: 'B0GREENLIGHT',
    },
    response_urls: [],
    is_enterprise_install: false,
    enterprise: null,
  };
}
