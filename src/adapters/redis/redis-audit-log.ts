import type { Redis } from 'ioredis';
import type { AuditEntry, AuditLog } from '../../app/ports.ts';

/** The audit trail as a Redis stream, capped (approximately) at `maxEntries`. */
export class RedisAuditLog implements AuditLog {
  private readonly redis: Redis;
  private readonly key: string;
  private readonly maxEntries: number;

  constructor(redis: Redis, prefix: string, maxEntries = 1_000_000) {
    this.redis = redis;
    this.key = `${prefix}:audit`;
    this.maxEntries = maxEntries;
  }

  async append(entry: AuditEntry): Promise<void> {
    await this.redis.xadd(
      this.key,
      'MAXLEN',
      '~',
      String(this.maxEntries),
      '*',
      'entry',
      JSON.stringify(entry),
    );
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
