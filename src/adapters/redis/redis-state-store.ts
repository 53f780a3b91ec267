import type { Redis } from 'ioredis';
import type { StateStore, StateWrites } from '../../app/ports.ts';
import { ENDED_STATES, type Release } from '../../domain/release.ts';
import type { ServiceState } from '../../domain/service-state.ts';
import { DAY_SECONDS, DEFAULT_RETENTION_DAYS, redisKeys } from './redis-keys.ts';
import { releaseSchema, serviceStateSchema } from './state-schemas.ts';

/**
 * The JSON a record is stored as, checked against the schema it is read back with: a record
 * that could not be read back would stop every later step of its release, so it is refused
 * here, at the write, where the step that made it fails and is retried, and the stored record
 * stays as it was.
 */
function readableJson(
  what: string,
  schema: typeof releaseSchema | typeof serviceStateSchema,
  value: Release | ServiceState,
): string {
  const json = JSON.stringify(value);
  const checked = schema.safeParse(JSON.parse(json));
  if (!checked.success) {
    const problems = checked.error.issues
      .map((issue) => `${issue.path.join('.') || '(record)'}: ${issue.message}`)
      .join('; ');
    throw new Error(`refused to store ${what}: it could not be read back (${problems})`);
  }
  return json;
}

/**
 * Compare-and-set of a service and/or a release in one step. Each record is a hash holding its
 * JSON and its revision; a write whose expected revision is stale changes nothing.
 *
 * Retention rides on the same write: a release that has ended gets an expiry (`ARGV[12]`
 * seconds, counted from its end: a later write to the ended release keeps the expiry it has),
 * and its Slack message map (KEYS[4]) the same one; a release that is active again (a rollback
 * of a released one) loses both. Ids created more than the retention before this release
 * (`ARGV[13]`, ms) leave the history index, so it cannot grow forever either.
 */
const COMMIT = `
local function rev(key)
  local r = redis.call('HGET', key, 'rev')
  if r then return tonumber(r) end
  return 0
end
if ARGV[1] == '1' and rev(KEYS[1]) ~= tonumber(ARGV[2]) then return 0 end
if ARGV[5] == '1' and rev(KEYS[2]) ~= tonumber(ARGV[6]) then return 0 end
if ARGV[1] == '1' then redis.call('HSET', KEYS[1], 'json', ARGV[3], 'rev', ARGV[4]) end
if ARGV[5] == '1' then
  redis.call('HSET', KEYS[2], 'json', ARGV[7], 'rev', ARGV[8])
  redis.call('ZADD', KEYS[3], 'NX', ARGV[10], ARGV[9])
  if ARGV[11] == '1' then
    if redis.call('TTL', KEYS[2]) == -1 then redis.call('EXPIRE', KEYS[2], ARGV[12]) end
    local ttl = redis.call('PTTL', KEYS[2])
    if ttl > 0 then redis.call('PEXPIRE', KEYS[4], ttl) end
  else
    redis.call('PERSIST', KEYS[2])
    redis.call('PERSIST', KEYS[4])
  end
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. ARGV[13])
end
return 1
`;

export interface StateRetention {
  /** Days an ended release (record, Slack message map, history line) is kept after it ended. */
  readonly releaseDays: number;
}

export class RedisStateStore implements StateStore {
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly retentionSeconds: number;

  /** `prefix` is the braced key prefix (`{greenlight}`), shared with the queues. */
  constructor(
    redis: Redis,
    prefix: string,
    retention: StateRetention = { releaseDays: DEFAULT_RETENTION_DAYS },
  ) {
    this.redis = redis;
    this.prefix = prefix;
    this.retentionSeconds = Math.round(retention.releaseDays * DAY_SECONDS);
  }

  private serviceKey(service: string): string {
    return `${this.prefix}:service:${service}`;
  }

  private releaseKey(id: string): string {
    return redisKeys.release(this.prefix, id);
  }

  private indexKey(service: string): string {
    return redisKeys.releaseIndex(this.prefix, service);
  }

  async getService(service: string): Promise<ServiceState | null> {
    const json = await this.redis.hget(this.serviceKey(service), 'json');
    return json === null ? null : serviceStateSchema.parse(JSON.parse(json));
  }

  async getRelease(id: string): Promise<Release | null> {
    const json = await this.redis.hget(this.releaseKey(id), 'json');
    return json === null ? null : releaseSchema.parse(JSON.parse(json));
  }

  /**
   * Most recent first. An id whose record has expired is skipped and dropped from the index, and
   * the next ids are read in its place, so `limit` releases come back while that many remain.
   */
  async listReleases(service: string, limit: number): Promise<Release[]> {
    const index = this.indexKey(service);
    const found = new Map<string, Release>();
    let start = 0;
    while (found.size < limit) {
      const ids = await this.redis.zrevrange(index, start, start + (limit - found.size) - 1);
      if (ids.length === 0) break;
      const releases = await Promise.all(ids.map((id) => this.getRelease(id)));
      const expired = ids.filter((_, i) => releases[i] === null);
      if (expired.length > 0) await this.redis.zrem(index, ...expired);
      for (const release of releases) if (release !== null) found.set(release.id, release);
      // The expired ids are gone from the index, so the next unread rank moved back by as many.
      start += ids.length - expired.length;
    }
    return [...found.values()].slice(0, limit);
  }

  async commit(writes: StateWrites): Promise<boolean> {
    const { service, release } = writes;
    for (const write of [service, release]) {
      if (write !== undefined && write.next.revision !== write.expected + 1) {
        throw new Error(
          `revision must advance by one (expected ${write.expected}, next ${write.next.revision})`,
        );
      }
    }
    const serviceName = service?.next.service ?? release?.next.service;
    if (serviceName === undefined) return true;
    const serviceJson = service
      ? readableJson(`service ${service.next.service}`, serviceStateSchema, service.next)
      : '';
    const releaseJson = release
      ? readableJson(`release ${release.next.id}`, releaseSchema, release.next)
      : '';
    const releaseId = release?.next.id ?? '-';
    const createdMs = release ? Date.parse(release.next.createdAt) : 0;
    const result = await this.redis.eval(
      COMMIT,
      4,
      this.serviceKey(serviceName),
      this.releaseKey(releaseId),
      this.indexKey(serviceName),
      redisKeys.messageMap(this.prefix, releaseId),
      service ? '1' : '0',
      String(service?.expected ?? 0),
      serviceJson,
      String(service?.next.revision ?? 0),
      release ? '1' : '0',
      String(release?.expected ?? 0),
      releaseJson,
      String(release?.next.revision ?? 0),
      release?.next.id ?? '',
      String(createdMs),
      release && ENDED_STATES.includes(release.next.state) ? '1' : '0',
      String(this.retentionSeconds),
      String(createdMs - this.retentionSeconds * 1000),
    );
    return result === 1;
  }
}
