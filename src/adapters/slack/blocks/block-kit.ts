/** The few Block Kit shapes Greenlight sends, typed narrowly so builders stay pure and checked. */
export interface TextObject {
  type: 'mrkdwn' | 'plain_text';
  text: string;
}

export type Block =
  | { type: 'header'; text: { type: 'plain_text'; text: string } }
  | { type: 'section'; text?: TextObject; fields?: TextObject[] }
  | { type: 'context'; elements: TextObject[] }
  | { type: 'divider' };

/** A message body: blocks for people, `text` for notifications and screen readers. */
export interface SlackMessage {
  text: string;
  blocks: Block[];
}

export const mrkdwn = (text: string): TextObject => ({ type: 'mrkdwn', text });
export const section = (text: string): Block => ({ type: 'section', text: mrkdwn(text) });
export const context = (text: string): Block => ({ type: 'context', elements: [mrkdwn(text)] });

/** Slack renders `&`, `<` and `>` as control characters in mrkdwn; user text must be escaped. */
export function escapeText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
