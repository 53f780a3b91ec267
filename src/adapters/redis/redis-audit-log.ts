import type { Redis } from 'ioredis';
import type { AuditEntry, AuditLog } from '../../app/ports.ts';
import { DEFAULT_RETENTION_DAYS } from './redis-keys.ts';

const DAY_MS = 24 * 3600 * 1000;

/** What one trim removed: `removed` entries with ids (ms timestamps) below `cutoffId`. */
export interface AuditTrim {
  readonly removed: number;
  readonly cutoffId: string;
  readonly retentionDays: number;
}

export interface AuditRetention {
  /** Entries older than this many days are trimmed. */
  readonly retentionDays: number;
  /** An append trims at most once per this many ms in a process (default 10 minutes). */
  readonly trimEveryMs?: number;
  /** Told of every trim that removed entries: the composition root logs a warning and counts it. */
  readonly onTrimmed?: (trim: AuditTrim) => void;
  /** A trim that failed; the append it rode on still succeeded. */
  readonly onTrimFailed?: (error: unknown) => void;
  /** For the trim's pacing only: the cutoff is taken from Redis's clock, which names the ids. */
  readonly now?: () => number;
}

/**
 * The audit trail as a Redis stream, kept by age: entries older than `retentionDays` are trimmed
 * with `XTRIM MINID` (stream ids are the Redis server's ms timestamps), never by count, and every
 * trim that removes something is reported. Appends run the trim, at most once per `trimEveryMs`.
 */
export class RedisAuditLog implements AuditLog {
  private readonly redis: Redis;
  private readonly key: string;
  private readonly retention: AuditRetention;
  private readonly now: () => number;
  private nextTrimAt = 0;

  constructor(
    redis: Redis,
    prefix: string,
    retention: AuditRetention = { retentionDays: DEFAULT_RETENTION_DAYS },
  ) {
    this.redis = redis;
    this.key = `${prefix}:audit`;
    this.retention = retention;
    this.now = retention.now ?? Date.now;
  }

  async append(entry: AuditEntry): Promise<void> {
    await this.redis.xadd(this.key, '*', 'entry', JSON.stringify(entry));
    const now = this.now();
    if (now < this.nextTrimAt) return;
    this.nextTrimAt = now + (this.retention.trimEveryMs ?? 10 * 60_000);
    try {
      await this.trim();
    } catch (error) {
      this.retention.onTrimFailed?.(error);
    }
  }

  /** Removes the entries older than the retention (by Redis's clock) and reports how many. */
  async trim(): Promise<AuditTrim> {
    const [seconds, micros] = await this.redis.time();
    const nowMs = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    const cutoffMs = Math.max(0, nowMs - this.retention.retentionDays * DAY_MS);
    const cutoffId = `${cutoffMs}-0`;
    const removed = await this.redis.xtrim(this.key, 'MINID', cutoffId);
    const trim = { removed, cutoffId, retentionDays: this.retention.retentionDays };
    if (removed > 0) this.retention.onTrimmed?.(trim);
    return trim;
  }

  async read(options: {
    afterId?: string;
    limit: number;
  }): Promise<{ id: string; entry: AuditEntry }[]> {
    const start = options.afterId ? `(${options.afterId}` : '-';
    const rows = await this.redis.xrange(this.key, start, '+', 'COUNT', options.limit);
    return rows.map(([id, fields]) => {
      const at = fields.indexOf('entry');
      return { id, entry: JSON.parse(fields[at + 1] ?? '{}') as AuditEntry };
    });
  }
}
