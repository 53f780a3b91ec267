import type {
  Button,
  ContextBlock,
  DividerBlock,
  HeaderBlock,
  KnownBlock,
  MrkdwnElement,
  PlainTextElement,
  SectionBlock,
} from '@slack/types';
import { neutralise, neutraliseCode } from '../../../domain/user-text.ts';

// Block Kit as @slack/types defines it (the types Bolt and the Web API client take), built by
// small pure functions that also keep every text within the limit of the field it fills.

/** A message body: blocks for people, `text` for notifications and screen readers. */
export interface SlackMessage {
  text: string;
  blocks: KnownBlock[];
}

export const mrkdwn = (text: string): MrkdwnElement => ({ type: 'mrkdwn', text });
export const plainText = (text: string): PlainTextElement => ({ type: 'plain_text', text });
export const section = (text: string): SectionBlock => ({
  type: 'section',
  text: mrkdwn(truncate(text, 3000)),
});
export const fields = (...texts: string[]): SectionBlock => ({
  type: 'section',
  fields: texts.slice(0, 10).map((t) => mrkdwn(truncate(t, 2000))),
});
export const context = (text: string): ContextBlock => ({
  type: 'context',
  elements: [mrkdwn(truncate(text, 3000))],
});
export const header = (text: string): HeaderBlock => ({
  type: 'header',
  text: plainText(truncate(text, 150)),
});
export const divider: DividerBlock = { type: 'divider' };

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
    text: plainText(truncate(label, 75)),
    value: truncate(value, 2000),
    ...(options.style ? { style: options.style } : {}),
    ...(options.confirm
      ? {
          confirm: {
            title: plainText(truncate(options.confirm.title, 100)),
            text: mrkdwn(options.confirm.text),
            confirm: plainText(options.confirm.ok),
            deny: plainText('Cancel'),
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
