import type { AnyBlock } from '@slack/types';
import { z } from 'zod';

function isBlock(value: unknown): boolean {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    typeof (value as { type?: unknown }).type === 'string'
  );
}

/**
 * One Slack message waiting in the outbox queue. `key` names the message for good: a `post`
 * happens once per key, an `upsert` edits the message posted under its key, and `threadKey`
 * makes it a reply in the thread of another key's message (of the same group).
 */
export const outboxMessageSchema = z.object({
  v: z.literal(1),
  mode: z.enum(['post', 'upsert']),
  key: z.string().min(1).max(200),
  /**
   * Where `key` is recorded: a release id (the record is kept as long as the release's) or a
   * deploy operation's id (kept for the retention after its last message). Jobs queued before
   * groups existed have none and use the one shared map.
   */
  group: z.string().min(1).max(200).optional(),
  channel: z.string().regex(/^[CGD][A-Z0-9]+$/),
  threadKey: z.string().optional(),
  /**
   * For an upsert: the versions of what it shows, the release's revision first, then its
   * service's (when the record was created, then its revision, compared in that order). Messages
   * are queued after their state is written, so two steps can queue redraws out of order: an
   * upsert older in both the release and the service than the one already shown is dropped,
   * never shown over it.
   */
  version: z.array(z.number().int().nonnegative()).max(4).optional(),
  /** Key of a message whose thread link replaces `{{thread_link}}` in text and blocks. */
  linkKey: z.string().optional(),
  text: z.string(),
  /** Block Kit as the builders made it; checked only for its shape (an object with a type). */
  blocks: z.array(z.custom<AnyBlock>(isBlock, { error: 'expected a Block Kit block' })),
});

export type OutboxMessage = z.output<typeof outboxMessageSchema>;
