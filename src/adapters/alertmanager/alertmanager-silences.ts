import type { Redis } from 'ioredis';
import { type Dispatcher, request } from 'undici';
import { z } from 'zod';
import type { AlertSilences } from '../../app/comms-ports.ts';
import type { SilenceMatcher } from '../../config/comms-schema.ts';
import type { Release } from '../../domain/release.ts';

export interface AlertmanagerSettings {
  readonly url: string;
  readonly matchers: readonly SilenceMatcher[];
  readonly timeoutMs: number;
}

const CREATED_BY = 'greenlight';
/** How long the id of a release's silence is kept: well past any lease and tail. */
const RECORD_SECONDS = 30 * 24 * 3600;

const silenceSchema = z.object({
  id: z.string(),
  matchers: z.array(
    z.object({
      name: z.string(),
      value: z.string(),
      isRegex: z.boolean(),
      isEqual: z.boolean().optional(),
    }),
  ),
  startsAt: z.string(),
  endsAt: z.string(),
  createdBy: z.string(),
  comment: z.string(),
  status: z.object({ state: z.string() }),
});
type Silence = z.output<typeof silenceSchema>;

/** The tag in a silence's comment that names its release, so a lost id can be found again. */
export function releaseTag(releaseId: string): string {
  return `[greenlight:${releaseId}]`;
}

/**
 * Silences through Alertmanager's v2 API. The silence id is kept in Redis beside the release, so
 * a restart extends the same silence; if that record is lost, the silence is found again by its
 * creator and the release tag in its comment. An active silence keeps its start when extended,
 * which is what lets Alertmanager update it in place rather than replace it.
 */
export class AlertmanagerSilences implements AlertSilences {
  private readonly settings: AlertmanagerSettings;
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly dispatcher: Dispatcher;
  private readonly onFailure: (operation: 'hold' | 'cut') => void;

  constructor(
    settings: AlertmanagerSettings,
    redis: Redis,
    prefix: string,
    dispatcher: Dispatcher,
    onFailure: (operation: 'hold' | 'cut') => void = () => {},
  ) {
    this.settings = settings;
    this.redis = redis;
    this.prefix = prefix;
    this.dispatcher = dispatcher;
    this.onFailure = onFailure;
  }

  async hold(release: Release, until: Date): Promise<string> {
    return this.counted('hold', () => this.extend(release, until));
  }

  async cut(release: Release, until: Date): Promise<void> {
    return this.counted('cut', () => this.shorten(release, until));
  }

  /** Every failure is counted (greenlight_alertmanager_failures_total), then passed on. */
  private async counted<T>(operation: 'hold' | 'cut', run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      this.onFailure(operation);
      throw error;
    }
  }

  private async extend(release: Release, until: Date): Promise<string> {
    const existing = await this.current(release.id);
    const id = await this.post({
      ...(existing ? { id: existing.id } : {}),
      matchers: this.settings.matchers.map((m) => ({ ...m })),
      startsAt: existing?.startsAt ?? new Date().toISOString(),
      endsAt: until.toISOString(),
      createdBy: CREATED_BY,
      comment: `Greenlight: ${release.service} ${release.fromVersion} → ${release.version} is moving traffic ${releaseTag(release.id)}`,
    });
    await this.redis.set(this.key(release.id), id, 'EX', RECORD_SECONDS);
    return id;
  }

  private async shorten(release: Release, until: Date): Promise<void> {
    const existing = await this.current(release.id);
    if (existing === undefined || Date.parse(existing.endsAt) <= until.getTime()) return;
    if (until.getTime() <= Date.now()) {
      await this.call('DELETE', `api/v2/silence/${encodeURIComponent(existing.id)}`);
      return;
    }
    const id = await this.post({
      id: existing.id,
      matchers: existing.matchers,
      startsAt: existing.startsAt,
      endsAt: until.toISOString(),
      createdBy: existing.createdBy,
      comment: existing.comment,
    });
    await this.redis.set(this.key(release.id), id, 'EX', RECORD_SECONDS);
  }

  private key(releaseId: string): string {
    return `${this.prefix}:silence:${releaseId}`;
  }

  /** The release's silence while it is not expired: by the stored id, else by its comment. */
  private async current(releaseId: string): Promise<Silence | undefined> {
    const id = await this.redis.get(this.key(releaseId));
    if (id !== null) {
      const found = await this.call(
        'GET',
        `api/v2/silence/${encodeURIComponent(id)}`,
        undefined,
        [404],
      );
      const silence = found === undefined ? undefined : silenceSchema.parse(found);
      if (silence !== undefined && silence.status.state !== 'expired') return silence;
      if (silence !== undefined) return undefined;
    }
    const all = z.array(silenceSchema).parse(await this.call('GET', 'api/v2/silences'));
    return all
      .filter(
        (s) =>
          s.createdBy === CREATED_BY &&
          s.comment.includes(releaseTag(releaseId)) &&
          s.status.state !== 'expired',
      )
      .sort((a, b) => Date.parse(b.endsAt) - Date.parse(a.endsAt))[0];
  }

  private async post(body: Record<string, unknown>): Promise<string> {
    const answer = z
      .object({ silenceID: z.string() })
      .parse(await this.call('POST', 'api/v2/silences', body));
    return answer.silenceID;
  }

  private async call(
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    body?: unknown,
    absentOn: number[] = [],
  ): Promise<unknown> {
    const base = this.settings.url.endsWith('/') ? this.settings.url : `${this.settings.url}/`;
    const url = new URL(path, base);
    let res: Dispatcher.ResponseData;
    try {
      res = await request(url, {
        method,
        dispatcher: this.dispatcher,
        signal: AbortSignal.timeout(this.settings.timeoutMs),
        ...(body === undefined
          ? {}
          : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
      });
    } catch (error) {
      const e = error as { name?: string; code?: string; message?: string };
      throw new Error(
        e.name === 'TimeoutError' || e.name === 'AbortError'
          ? `Alertmanager at ${url.origin} did not answer within ${this.settings.timeoutMs} ms`
          : `Alertmanager at ${url.origin} is unreachable (${e.code ?? e.message})`,
      );
    }
    const text = await res.body.text();
    if (absentOn.includes(res.statusCode)) return undefined;
    if (res.statusCode < 200 || res.statusCode >= 300)
      throw new Error(
        `Alertmanager answered ${method} ${url.pathname} with ${res.statusCode}: ${text.slice(0, 200)}`,
      );
    return text === '' ? undefined : JSON.parse(text);
  }
}
