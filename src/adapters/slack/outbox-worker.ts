import { ErrorCode, type WebClient } from '@slack/web-api';
import { UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { JobHandler } from '../queue/job-router.ts';
import { THREAD_LINK } from './blocks/release-messages.ts';
import { type OutboxMessage, outboxMessageSchema } from './outbox-message.ts';

export interface OutboxDeps {
  readonly client: WebClient;
  readonly redis: Redis;
  /** Braced key prefix shared with the queues. */
  readonly prefix: string;
  /** Pauses the whole outbox queue, so messages keep their order while Slack is limited or down. */
  readonly pause: (ms: number) => Promise<void>;
  /** Pause after a 5xx or a network failure, before the same message is tried again. */
  readonly outageBackoffMs?: number;
  /** Told of every failed Slack call: the method, Slack's error, and whether it will be retried. */
  readonly onError?: (method: string, error: string, retried: boolean) => void;
}

interface Posted {
  channel: string;
  ts: string;
}

/**
 * Delivers outbox messages in order. A 429 pauses the queue for Slack's `Retry-After`, a 5xx or a
 * network error for a short backoff, and the job is tried again without losing its place; an
 * `ok:false` that no retry can fix fails the job for good and is logged.
 */
export function outboxHandler(deps: OutboxDeps): JobHandler<typeof outboxMessageSchema> {
  const postedKey = `${deps.prefix}:slack-messages`;
  let teamUrl: string | undefined;

  const posted = async (key: string): Promise<Posted | undefined> => {
    const json = await deps.redis.hget(postedKey, key);
    return json === null ? undefined : (JSON.parse(json) as Posted);
  };

  const permalink = async (at: Posted): Promise<string> => {
    teamUrl ??= String((await deps.client.auth.test()).url ?? 'https://slack.com/');
    return `${teamUrl.replace(/\/?$/, '/')}archives/${at.channel}/p${at.ts.replace('.', '')}`;
  };

  const deliver = async (message: OutboxMessage) => {
    const existing = await posted(message.key);
    if (message.mode === 'post' && existing !== undefined) return;
    let threadTs: string | undefined;
    if (message.threadKey !== undefined) {
      const parent = await posted(message.threadKey);
      // Ordering puts the parent first; if it failed for good, this reply cannot be placed.
      if (parent === undefined)
        throw new UnrecoverableError(`thread parent ${message.threadKey} was never posted`);
      threadTs = parent.ts;
    }
    let text = message.text;
    let blocks = message.blocks;
    if (message.linkKey !== undefined) {
      const target = await posted(message.linkKey);
      const link = target === undefined ? 'https://slack.com/' : await permalink(target);
      text = text.replaceAll(THREAD_LINK, link);
      blocks = JSON.parse(JSON.stringify(blocks).replaceAll(THREAD_LINK, link)) as typeof blocks;
    }
    if (existing !== undefined) {
      await deps.client.chat.update({
        channel: existing.channel,
        ts: existing.ts,
        text,
        blocks: blocks as never,
      });
      return;
    }
    const result = await deps.client.chat.postMessage({
      channel: message.channel,
      text,
      blocks: blocks as never,
      ...(threadTs ? { thread_ts: threadTs } : {}),
      unfurl_links: false,
    });
    await deps.redis.hset(
      postedKey,
      message.key,
      JSON.stringify({ channel: result.channel ?? message.channel, ts: result.ts }),
    );
  };

  return {
    schema: outboxMessageSchema,
    run: async (message) => {
      try {
        await deliver(message);
      } catch (error) {
        const e = error as {
          code?: string;
          retryAfter?: number;
          statusCode?: number;
          data?: { error?: string };
        };
        const method = message.mode === 'upsert' ? 'chat.update/postMessage' : 'chat.postMessage';
        if (e.code === ErrorCode.RateLimitedError) {
          deps.onError?.(method, 'ratelimited', true);
          await deps.pause(Math.max(1, e.retryAfter ?? 1) * 1000);
          throw Worker.RateLimitError();
        }
        if (
          e.code === ErrorCode.RequestError ||
          (e.code === ErrorCode.HTTPError && (e.statusCode ?? 500) >= 500)
        ) {
          deps.onError?.(
            method,
            e.code === ErrorCode.RequestError ? 'unreachable' : `http_${e.statusCode}`,
            true,
          );
          await deps.pause(deps.outageBackoffMs ?? 2000);
          throw Worker.RateLimitError();
        }
        if (e.code === ErrorCode.PlatformError) {
          deps.onError?.(method, e.data?.error ?? 'unknown', false);
          throw new UnrecoverableError(
            `Slack refused the message ${message.key}: ${e.data?.error ?? 'unknown error'}`,
          );
        }
        throw error;
      }
    },
  };
}
