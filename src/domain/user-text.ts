/**
 * The one rule for text a person typed (reasons, justifications, anything echoed back): in any
 * message, alert, fallback `text`, private answer or modal it can neither mention, link nor
 * format. Only mentions Greenlight writes itself (`<@U…>` of configured people) are live.
 *
 * Slack's mrkdwn gives `<`, `>` and `&` their meaning (`<@U…>`, `<!here>`, `<url|label>`, and
 * entities such as `&lt;` that a later pass could turn back into a token), `*`, `_`, `~` and `` ` ``
 * format, and a scheme (`https://`) becomes a link on its own. Each is replaced by a character
 * that looks the same and means nothing, so the text reads as typed and survives any later
 * escaping or unescaping unchanged (the rule is idempotent). Control, zero-width and
 * bidirectional-override characters, which can hide or reorder what a reader sees, are removed;
 * overlong text is cut.
 */
const LOOKALIKES: Readonly<Record<string, string>> = {
  '<': '‹',
  '>': '›',
  '&': '＆',
  '*': '∗',
  _: 'ˍ',
  '~': '∼',
  '`': 'ˋ',
};

/** C0/C1 controls but tab and newline; zero-width and bidi controls; BOM; line/para separators. */
const INVISIBLE =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: removing them is the point
  /[\u0000-\u0008\u000B-\u001F\u007F-\u009F\u200B-\u200F\u202A-\u202E\u2060-\u206F\uFEFF\u2028\u2029]/g;

export const USER_TEXT_MAX = 500;

/** The rule itself, for text inside a message: nothing trimmed or cut (spacing may matter). */
export function neutralise(text: string): string {
  return (
    text
      .normalize('NFC')
      .replace(INVISIBLE, '')
      .replace(/[<>&*_~`]/g, (c) => LOOKALIKES[c] ?? c)
      // A scheme is a link on its own in Slack: `https://x` reads the same as `https∶//x`.
      .replace(/:\/\//g, '∶//')
      // More than two line breaks in a row would let a text push the rest of a message away.
      .replace(/\n{3,}/g, '\n\n')
  );
}

/**
 * The rule for text shown inside a code block (a deploy's output): a code block formats nothing,
 * so only what could end it or mention, and what hides, is replaced; `_` and `*` stay as printed.
 */
export function neutraliseCode(text: string): string {
  return text
    .replace(INVISIBLE, '')
    .replace(/[<>&`]/g, (c) => LOOKALIKES[c] ?? c)
    .replace(/:\/\//g, '∶//');
}

/** Text a person typed, as it is stored: the rule, trimmed and cut to `max` characters. */
export function userText(text: string, max = USER_TEXT_MAX): string {
  const cleaned = neutralise(text).trim();
  const chars = [...cleaned];
  return chars.length <= max ? cleaned : `${chars.slice(0, max - 1).join('')}…`;
}
