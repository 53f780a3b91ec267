import { createHash, createHmac } from 'node:crypto';
import { type Queue, UnrecoverableError } from 'bullmq';
import { type Dispatcher, request } from 'undici';
import { z } from 'zod';
import type { CommsWebhooks } from '../../app/comms-ports.ts';
import type { CommsConfig } from '../../config/comms-schema.ts';
import type { Release } from '../../domain/release.ts';
import type { WebhookEventName } from '../../domain/release-comms.ts';
import type { RedisOnceMarks } from '../redis/redis-once-marks.ts';

export const COMMS_WEBHOOK_JOB = 'comms-webhook';

/** A delivery as queued: the body is fixed when the event happens, whatever later changes. */
export const commsWebhookJobSchema = z.object({
  v: z.literal(1),
  url: z.string(),
  /**
   * Which hook, with the place its job id records (`-hook<n>`): two hooks may share a URL (one
   * receiver, two secrets). Absent on deliveries queued before it was recorded.
   */
  secretEnv: z.string().optional(),
  idempotencyKey: z.string(),
  body: z.record(z.string(), z.unknown()),
});

/** A queued delivery, with its hook's place in the config when queued (from its job id). */
export type QueuedDelivery = z.output<typeof commsWebhookJobSchema> & { hook?: number };

type Hook = CommsConfig['webhooks'][number];

/**
 * A receiver's identity for one delivery, whatever the hook's place (a deploy may reorder the
 * hooks between two runs of one comms step), as its idempotency key tells it: the URL alone, or
 * the URL and the secret's name where several hooks share the URL. Hashed: a URL may carry a
 * token.
 */
function receiverKey(url: string, secretEnv?: string): string {
  const identity = secretEnv === undefined ? url : `${url}\n${secretEnv}`;
  return createHash('sha256').update(identity).digest('hex').slice(0, 12);
}

/**
 * A delivery's job id: one per release, event and receiver key, ending with the hook's place
 * when queued (`-hook<n>`), which a secret renamed in place is found by.
 */
function webhookJobId(releaseId: string, event: WebhookEventName, key: string, index: number) {
  return `${releaseId}-${event}-${key}-hook${index}`.replace(/[^A-Za-z0-9_.-]/g, '-');
}

/** The hook's place in the config when its delivery was queued, read back from the job id. */
export function hookPlaceOf(jobId: string | undefined): number | undefined {
  const place = /-hook(\d+)$/.exec(jobId ?? '')?.[1];
  return place === undefined ? undefined : Number(place);
}

/** The job id deliveries had before they carried a receiver key. */
const placedJobId = (releaseId: string, event: WebhookEventName, index: number) =>
  `${releaseId}-${event}-hook${index}`.replace(/[^A-Za-z0-9_.-]/g, '-');

/**
 * The signature of a comms webhook, Slack's scheme with Greenlight's version tag:
 * `v1=` + hex HMAC-SHA256 of `v1:{timestamp}:{body}` with the hook's secret.
 */
export function commsSignature(secret: string, timestamp: number, body: string): string {
  return `v1=${createHmac('sha256', secret).update(`v1:${timestamp}:${body}`).digest('hex')}`;
}

/** What a receiver gets: the event and the release as a status page needs it. */
export function webhookBody(release: Release, event: WebhookEventName, at: string) {
  return {
    event,
    id: `${release.id}-${event}`,
    at,
    release: {
      id: release.id,
      service: release.service,
      version: release.version,
      fromVersion: release.fromVersion,
      type: release.type,
      strategy: release.strategy,
      state: release.state,
      requester: release.requester,
      ...(release.releasedAt ? { releasedAt: release.releasedAt } : {}),
      ...(release.rollback
        ? {
            rollback: {
              by: release.rollback.by,
              reason: release.rollback.reason,
              at: release.rollback.at,
            },
          }
        : {}),
    },
  };
}

/**
 * Enqueues one delivery per hook that wants the event, once per (release, event, hook): marked
 * in Redis once queued, and queued under an id made of the three, so the same event sent again
 * is the same job. A hook is known as its receiver knows it (`receiverKey`), not by its place,
 * so hooks reordered between two runs neither miss the event nor get it twice. BullMQ retries
 * with backoff; receivers dedupe on the idempotency key.
 */
export class QueuedCommsWebhooks implements CommsWebhooks {
  private readonly queue: Queue;
  private readonly hooks: CommsConfig['webhooks'];
  private readonly marks: RedisOnceMarks;
  private readonly now: () => number;

  constructor(
    queue: Queue,
    hooks: CommsConfig['webhooks'],
    marks: RedisOnceMarks,
    now: () => number,
  ) {
    this.queue = queue;
    this.hooks = hooks;
    this.marks = marks;
    this.now = now;
  }

  async send(release: Release, event: WebhookEventName): Promise<void> {
    const at = new Date(this.now()).toISOString();
    const marked = new Set(await this.marks.list(release.id));
    for (const [index, hook] of this.hooks.entries()) {
      if (!hook.events.includes(event)) continue;
      const shared = this.hooks.filter((h) => h.url === hook.url).length > 1;
      // Two hooks on one receiver (two secrets) must not look like one retried delivery there.
      const idempotencyKey = shared
        ? `${release.id}-${event}-${hook.secretEnv}`
        : `${release.id}-${event}`;
      // Both marks are written; a hook alone on its URL now is known by the URL's too, so a
      // secret renamed in place (a rotation) is not a new receiver.
      const hookMark = `webhook-${event}-${receiverKey(hook.url, hook.secretEnv)}`;
      const urlMark = `webhook-${event}-${receiverKey(hook.url)}`;
      if (marked.has(hookMark) || (!shared && marked.has(urlMark))) continue;
      const marks = async () => {
        await this.marks.mark(release.id, hookMark);
        await this.marks.mark(release.id, urlMark);
      };
      // Marked again by receiver, so later runs need not look up the old job each time.
      if (await this.queuedByPlace(release.id, event, marked, index, hook, idempotencyKey)) {
        await marks();
        continue;
      }
      await this.queue.add(
        COMMS_WEBHOOK_JOB,
        {
          v: 1,
          url: hook.url,
          secretEnv: hook.secretEnv,
          idempotencyKey,
          body: webhookBody(release, event, at),
        },
        {
          jobId: webhookJobId(
            release.id,
            event,
            receiverKey(hook.url, shared ? hook.secretEnv : undefined),
            index,
          ),
          attempts: 10,
          backoff: { type: 'exponential', delay: 2000 },
          removeOnComplete: { age: 7 * 24 * 3600, count: 10_000 },
          removeOnFail: { age: 30 * 24 * 3600 },
        },
      );
      await marks();
    }
  }

  /**
   * Marked by place before receiver keys (an upgrade mid-release): the delivery queued at a
   * place, if still kept, says which receiver it was for (its URL and idempotency key), wherever
   * that hook is now; a trimmed one (the steps queue keeps few completed jobs) leaves the place
   * as all there is.
   */
  private async queuedByPlace(
    releaseId: string,
    event: WebhookEventName,
    marked: ReadonlySet<string>,
    index: number,
    hook: Hook,
    idempotencyKey: string,
  ): Promise<boolean> {
    const placeMark = new RegExp(`^webhook-${event}-(\\d+)$`);
    for (const mark of marked) {
      const place = Number(placeMark.exec(mark)?.[1] ?? Number.NaN);
      if (Number.isNaN(place)) continue;
      const job = await this.queue.getJob(placedJobId(releaseId, event, place));
      if (job === undefined || job === null) {
        if (place === index) return true;
        continue;
      }
      const data = job.data as { url?: string; idempotencyKey?: string };
      if (data.url === hook.url && data.idempotencyKey === idempotencyKey) return true;
    }
    return false;
  }
}

/**
 * The hook a delivery was queued for, in the configuration as it is now: the same place if it
 * still holds that URL and secret, else wherever they moved to (hooks reordered by a deploy).
 * A hook alone on its URL whose secret was renamed in place (a rotation) is still found there.
 * Never another hook's secret: a hook that was removed is not delivered at all.
 */
function hookOf(job: QueuedDelivery, hooks: CommsConfig['webhooks']): Hook | undefined {
  const same = (h: Hook) =>
    h.url === job.url && (job.secretEnv === undefined || h.secretEnv === job.secretEnv);
  const placed = job.hook === undefined ? undefined : hooks[job.hook];
  if (placed !== undefined && same(placed)) return placed;
  const moved = hooks.find(same);
  if (moved !== undefined) return moved;
  // Renamed in place: only for a URL no other hook had when it was queued (its key says so) and
  // none has now, or a removed hook's delivery would go out under its neighbour's secret.
  const sharedThen =
    job.secretEnv !== undefined && job.idempotencyKey.endsWith(`-${job.secretEnv}`);
  const sharedNow = hooks.filter((h) => h.url === job.url).length > 1;
  return placed?.url === job.url && !sharedThen && !sharedNow ? placed : undefined;
}

/**
 * Delivers one queued webhook: signed at send time (so a retry carries a fresh timestamp), any
 * 2xx is done, a 4xx other than 408 and 429 cannot succeed on retry, anything else is retried.
 * The secret is read from the environment here and never logged or put in an error.
 */
export async function deliverCommsWebhook(
  job: QueuedDelivery,
  hooks: CommsConfig['webhooks'],
  env: NodeJS.ProcessEnv,
  dispatcher: Dispatcher,
  nowSeconds = () => Math.floor(Date.now() / 1000),
): Promise<void> {
  const hook = hookOf(job, hooks);
  // The URL is left out: it may carry a token (an incoming-webhook path).
  if (hook === undefined)
    throw new UnrecoverableError(
      `webhook no longer configured: no hook has this URL${job.secretEnv ? ` with secretEnv ${job.secretEnv}` : ''} now (removed, or its secretEnv renamed while another hook shares the URL), so it was not sent; check comms.webhooks and send it by hand if the receiver needs it`,
    );
  const secret = env[hook.secretEnv];
  if (secret === undefined || secret === '')
    throw new UnrecoverableError(`webhook secret ${hook.secretEnv} is not set`);
  const body = JSON.stringify(job.body);
  const timestamp = nowSeconds();
  let status: number;
  try {
    const res = await request(hook.url, {
      method: 'POST',
      dispatcher,
      body,
      signal: AbortSignal.timeout(hook.timeoutMs),
      headers: {
        'content-type': 'application/json',
        'x-greenlight-timestamp': String(timestamp),
        'x-greenlight-signature': commsSignature(secret, timestamp, body),
        'x-greenlight-event': String(job.body.event ?? ''),
        'idempotency-key': job.idempotencyKey,
      },
    });
    await res.body.dump();
    status = res.statusCode;
  } catch (error) {
    const e = error as { code?: string; name?: string };
    throw new Error(`webhook ${new URL(hook.url).origin} unreachable (${e.code ?? e.name})`);
  }
  if (status >= 200 && status < 300) return;
  if (status >= 400 && status < 500 && status !== 408 && status !== 429)
    throw new UnrecoverableError(`webhook ${new URL(hook.url).origin} refused it with ${status}`);
  throw new Error(`webhook ${new URL(hook.url).origin} answered ${status}`);
}
