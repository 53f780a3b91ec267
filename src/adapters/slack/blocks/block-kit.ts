import { neutralise, neutraliseCode } from '../../../domain/user-text.ts';

/** The few Block Kit shapes Greenlight sends, typed narrowly so builders stay pure and checked. */
export interface TextObject {
  type: 'mrkdwn' | 'plain_text';
  text: string;
}

export interface Button {
  type: 'button';
  action_id: string;
  text: { type: 'plain_text'; text: string };
  value: string;
  style?: 'primary' | 'danger';
  confirm?: {
    title: { type: 'plain_text'; text: string };
    text: TextObject;
    confirm: { type: 'plain_text'; text: string };
    deny: { type: 'plain_text'; text: string };
    style?: 'primary' | 'danger';
  };
}

export type Block =
  | { type: 'header'; text: { type: 'plain_text'; text: string } }
  | { type: 'section'; text?: TextObject; fields?: TextObject[] }
  | { type: 'context'; elements: TextObject[] }
  | { type: 'divider' }
  | { type: 'actions'; block_id?: string; elements: Button[] };

/** A message body: blocks for people, `text` for notifications and screen readers. */
export interface SlackMessage {
  text: string;
  blocks: Block[];
}

export const mrkdwn = (text: string): TextObject => ({ type: 'mrkdwn', text });
export const section = (text: string): Block => ({
  type: 'section',
  text: mrkdwn(truncate(text, 3000)),
});
export const fields = (...texts: string[]): Block => ({
  type: 'section',
  fields: texts.slice(0, 10).map((t) => mrkdwn(truncate(t, 2000))),
});
export const context = (text: string): Block => ({
  type: 'context',
  elements: [mrkdwn(truncate(text, 3000))],
});
export const header = (text: string): Block => ({
  type: 'header',
  text: { type: 'plain_text', text: truncate(text, 150) },
});
export const divider: Block = { type: 'divider' };

export function button(
  actionId: string,
  label: string,
  value: string,
  options: {
    style?: 'primary' | 'danger';
    confirm?: { title: string; text: string; ok: string };
  } = {},
): Button {
  return {
    type: 'button',
    action_id: actionId,
    text: { type: 'plain_text', text: truncate(label, 75) },
    value: truncate(value, 2000),
    ...(options.style ? { style: options.style } : {}),
    ...(options.confirm
      ? {
          confirm: {
            title: { type: 'plain_text', text: truncate(options.confirm.title, 100) },
            text: mrkdwn(options.confirm.text),
            confirm: { type: 'plain_text', text: options.confirm.ok },
            deny: { type: 'plain_text', text: 'Cancel' },
            ...(options.style ? { style: options.style } : {}),
          },
        }
      : {}),
  };
}

export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/**
 * Text Greenlight did not write (what a person typed, a slot's or a gate's answer, a deploy's
 * output) as it goes into any message: the one rule of user-text.ts, without its length cap
 * (callers cut to what their block allows).
 */
export function escapeText(text: string): string {
  return neutralise(text);
}

/** The same, for the inside of a code block (see `neutraliseCode`). */
export function escapeCode(text: string): string {
  return neutraliseCode(text);
}

/** The plain-text fallback: what notifications and screen readers get, without mrkdwn marks. */
export function plain(text: string): string {
  return text
    .replace(/[`*]/g, '')
    .replace(/<@([UW][A-Z0-9]+)>/g, '@$1')
    .replace(/<#([CG][A-Z0-9]+)>/g, '#$1');
}
