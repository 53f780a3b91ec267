import { ErrorCode, type WebClient } from '@slack/web-api';
import { UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { JobHandler } from '../queue/job-router.ts';
import { DAY_SECONDS, DEFAULT_RETENTION_DAYS, redisKeys } from '../redis/redis-keys.ts';
import { THREAD_LINK } from './blocks/alerts.ts';
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
  /**
   * Days a message record outlives its group: a deploy's messages after the last one, an
   * expired release's late messages after they are posted (a release's own map expires with its
   * record, whatever this says). Default 400.
   */
  readonly retentionDays?: number;
}

interface Posted {
  channel: string;
  ts: string;
  /** The revisions the message shows now (see OutboxMessage.version). */
  version?: number[];
}

/** -1, 0 or 1 as `a` comes before, with or after `b`, component by component. */
function compareInOrder(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < a.length; i += 1) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

/** `a` (release revision, then the service's order) shows nothing newer than `b`, and something older. */
function olderThan(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length || a.length === 0) return false;
  const release = Math.sign((a[0] ?? 0) - (b[0] ?? 0));
  const service = compareInOrder(a.slice(1), b.slice(1));
  return release <= 0 && service <= 0 && (release < 0 || service < 0);
}

/**
 * Records a posted message in its group's map (KEYS[1]) and gives the map the expiry of the
 * group's release record (KEYS[2]): none while the release is active, the rest of its retention
 * once it ended. A group without a record (a deploy, a notice, a release already expired) is kept
 * ARGV[3] seconds after its last message.
 */
const RECORD = `
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local ttl = redis.call('PTTL', KEYS[2])
if ttl == -2 then redis.call('EXPIRE', KEYS[1], ARGV[3])
elseif ttl == -1 then redis.call('PERSIST', KEYS[1])
else redis.call('PEXPIRE', KEYS[1], ttl) end
return 1
`;

/**
 * Delivers outbox messages in order. A 429 pauses the queue for Slack's `Retry-After`, a 5xx or a
 * network error for a short backoff, and the job is tried again without losing its place; an
 * `ok:false` that no retry can fix fails the job for good and is logged.
 */
export function outboxHandler(deps: OutboxDeps): JobHandler<typeof outboxMessageSchema> {
  const legacyKey = redisKeys.legacyMessageMap(deps.prefix);
  const retentionSeconds = Math.round((deps.retentionDays ?? DEFAULT_RETENTION_DAYS) * DAY_SECONDS);
  let teamUrl: string | undefined;
  let legacyExpiry: Promise<unknown> | undefined;

  /** Looked up in the message's group, then in the shared map of messages queued before groups. */
  const posted = async (group: string | undefined, key: string): Promise<Posted | undefined> => {
    const json =
      (group === undefined
        ? null
        : await deps.redis.hget(redisKeys.messageMap(deps.prefix, group), key)) ??
      (await deps.redis.hget(legacyKey, key));
    return json === null ? undefined : (JSON.parse(json) as Posted);
  };

  const record = async (message: OutboxMessage, at: { channel: string; ts?: string }) => {
    const json = JSON.stringify(message.version ? { ...at, version: message.version } : at);
    if (message.group === undefined) {
      // Only jobs queued before groups existed land here: the shared map ends a retention later.
      await deps.redis.hset(legacyKey, message.key, json);
      await deps.redis.expire(legacyKey, retentionSeconds);
      return;
    }
    await deps.redis.eval(
      RECORD,
      2,
      redisKeys.messageMap(deps.prefix, message.group),
      redisKeys.release(deps.prefix, message.group),
      message.key,
      json,
      String(retentionSeconds),
    );
  };

  const permalink = async (at: Posted): Promise<string> => {
    teamUrl ??= String((await deps.client.auth.test()).url ?? 'https://slack.com/');
    return `${teamUrl.replace(/\/?$/, '/')}archives/${at.channel}/p${at.ts.replace('.', '')}`;
  };

  const deliver = async (message: OutboxMessage) => {
    // The shared map of an older version (read as a fallback) ends a retention after it was last
    // written: once per process, it gets that expiry if it has none yet.
    legacyExpiry ??= deps.redis
      .ttl(legacyKey)
      .then((ttl) => (ttl === -1 ? deps.redis.expire(legacyKey, retentionSeconds) : undefined))
      .catch(() => {
        legacyExpiry = undefined;
      });
    await legacyExpiry;
    const existing = await posted(message.group, message.key);
    if (message.mode === 'post' && existing !== undefined) return;
    if (message.version && existing?.version && olderThan(message.version, existing.version))
      return;
    let threadTs: string | undefined;
    if (message.threadKey !== undefined) {
      const parent = await posted(message.group, message.threadKey);
      // Ordering puts the parent first; if it failed for good, this reply cannot be placed.
      if (parent === undefined)
        throw new UnrecoverableError(`thread parent ${message.threadKey} was never posted`);
      threadTs = parent.ts;
    }
    let text = message.text;
    let blocks = message.blocks;
    if (message.linkKey !== undefined) {
      const target = await posted(message.group, message.linkKey);
      const link = target === undefined ? 'https://slack.com/' : await permalink(target);
      text = text.replaceAll(THREAD_LINK, link);
      blocks = JSON.parse(JSON.stringify(blocks).replaceAll(THREAD_LINK, link)) as typeof blocks;
    }
    if (existing !== undefined) {
      await deps.client.chat.update({
        channel: existing.channel,
        ts: existing.ts,
        text,
        blocks,
      });
      if (message.version) await record(message, { channel: existing.channel, ts: existing.ts });
      return;
    }
    const result = await deps.client.chat.postMessage({
      channel: message.channel,
      text,
      blocks,
      ...(threadTs ? { thread_ts: threadTs } : {}),
      unfurl_links: false,
    });
    await record(message, { channel: result.channel ?? message.channel, ts: result.ts });
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
        // The client's timeout while the answer's body was still on its way comes out bare
        // (a TimeoutError, not a RequestError): Slack did not answer in time all the same.
        const unanswered =
          e.code === ErrorCode.RequestError ||
          (error as Error).name === 'TimeoutError' ||
          (error as Error).name === 'AbortError';
        if (unanswered || (e.code === ErrorCode.HTTPError && (e.statusCode ?? 500) >= 500)) {
          deps.onError?.(method, unanswered ? 'unreachable' : `http_${e.statusCode}`, true);
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
