import type { EmulatedMessage, SlackEmulator } from './slack-emulator.ts';
import { blockActionsPayload, interactionBody } from './slack-payloads.ts';
import type { SlackSender } from './slack-sender.ts';

type Json = Record<string, unknown>;

/** A checkboxes element on a message, with the block it sits in. */
interface Boxes {
  readonly blockId: string;
  readonly actionId: string;
  readonly options: Json[];
  readonly initial: Json[];
}

/** Slack echoes text objects back with the flags its clients add. */
function echoed(option: Json): Json {
  const text = option.text as Json;
  const description = option.description as Json | undefined;
  return {
    ...option,
    text: text.type === 'mrkdwn' ? { ...text, verbatim: false } : { ...text, emoji: true },
    ...(description ? { description: { ...description, emoji: true } } : {}),
  };
}

/** Every checkboxes element of a message. */
export function checkboxesOf(message: EmulatedMessage | undefined): Boxes[] {
  const blocks = (message?.blocks ?? []) as Json[];
  return blocks.flatMap((block) =>
    ((block.elements as Json[] | undefined) ?? [])
      .filter((e) => e.type === 'checkboxes')
      .map((e) => ({
        blockId: String(block.block_id),
        actionId: String(e.action_id),
        options: (e.options as Json[]) ?? [],
        initial: (e.initial_options as Json[] | undefined) ?? [],
      })),
  );
}

const optionText = (option: Json) => String((option.text as Json).text);

/**
 * The `block_actions` payload Slack sends when someone changes a checkbox: the element's whole
 * selection (`selected_options`, in the actions list and in `state.values`), not the one box.
 */
export function checkboxesPayload(click: {
  user: string;
  message: EmulatedMessage;
  boxes: Boxes;
  selected: Json[];
  responseUrl: string;
  channel?: string;
}): Json {
  const base = blockActionsPayload({
    action_id: click.boxes.actionId,
    value: '',
    user_id: click.user,
    ...(click.channel ? { channel_id: click.channel } : {}),
    message_ts: click.message.ts,
    message_text: click.message.text,
    message_blocks: click.message.blocks ?? [],
    response_url: click.responseUrl,
  });
  const selected = click.selected.map(echoed);
  return {
    ...base,
    state: {
      values: {
        [click.boxes.blockId]: {
          [click.boxes.actionId]: { type: 'checkboxes', selected_options: selected },
        },
      },
    },
    actions: [
      {
        type: 'checkboxes',
        block_id: click.boxes.blockId,
        action_id: click.boxes.actionId,
        selected_options: selected,
        action_ts: (Date.now() / 1000).toFixed(6),
      },
    ],
  };
}

function answerText(body: unknown): string {
  const b = body as { text?: string; blocks?: { text?: { text?: string } }[] };
  return [b.text ?? '', ...(b.blocks ?? []).map((block) => block.text?.text ?? '')].join('\n');
}

/**
 * Clicks the box of the item whose text starts with `item` on `message` as `user`, the way a
 * Slack client does (what the message shows, with that one box flipped), and returns the
 * private answer.
 */
export async function toggleChecklistItem(
  world: { slack: SlackEmulator; sender: SlackSender },
  user: string,
  message: EmulatedMessage | undefined,
  item: string,
  options: { channel?: string } = {},
): Promise<string> {
  if (message === undefined) throw new Error('no message to click on');
  const boxes = checkboxesOf(message).find((b) =>
    b.options.some((o) => optionText(o).startsWith(item)),
  );
  if (boxes === undefined) throw new Error(`no checkbox "${item}" on the message`);
  const option = boxes.options.find((o) => optionText(o).startsWith(item)) as Json;
  const on = boxes.initial.some((o) => o.value === option.value);
  const selected = on
    ? boxes.initial.filter((o) => o.value !== option.value)
    : [...boxes.initial, option];
  const responseUrl = world.slack.newResponseUrl();
  const reply = await world.sender.post(
    interactionBody(checkboxesPayload({ user, message, boxes, selected, responseUrl, ...options })),
  );
  if (reply.status !== 200) throw new Error(`Greenlight answered HTTP ${reply.status}`);
  return answerText((await world.slack.waitForResponse(responseUrl, 20_000)).body);
}
