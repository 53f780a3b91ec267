import type { Redis } from 'ioredis';
import type { StateStore, StateWrites } from '../../app/ports.ts';
import type { Release } from '../../domain/release.ts';
import type { ServiceState } from '../../domain/service-state.ts';
import { releaseSchema, serviceStateSchema } from './state-schemas.ts';

/**
 * Compare-and-set of a service and/or a release in one step. Each record is a hash holding its
 * JSON and its revision; a write whose expected revision is stale changes nothing.
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
end
return 1
`;

export class RedisStateStore implements StateStore {
  private readonly redis: Redis;
  private readonly prefix: string;

  /** `prefix` is the braced key prefix (`{greenlight}`), shared with the queues. */
  constructor(redis: Redis, prefix: string) {
    this.redis = redis;
    this.prefix = prefix;
  }

  private serviceKey(service: string): string {
    return `${this.prefix}:service:${service}`;
  }

  private releaseKey(id: string): string {
    return `${this.prefix}:release:${id}`;
  }

  private indexKey(service: string): string {
    return `${this.prefix}:releases:${service}`;
  }

  async getService(service: string): Promise<ServiceState | null> {
    const json = await this.redis.hget(this.serviceKey(service), 'json');
    return json === null ? null : serviceStateSchema.parse(JSON.parse(json));
  }

  async getRelease(id: string): Promise<Release | null> {
    const json = await this.redis.hget(this.releaseKey(id), 'json');
    return json === null ? null : releaseSchema.parse(JSON.parse(json));
  }

  async listReleases(service: string, limit: number): Promise<Release[]> {
    const ids = await this.redis.zrevrange(this.indexKey(service), 0, Math.max(0, limit - 1));
    const releases = await Promise.all(ids.map((id) => this.getRelease(id)));
    return releases.filter((r): r is Release => r !== null);
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
    const result = await this.redis.eval(
      COMMIT,
      3,
      this.serviceKey(serviceName),
      this.releaseKey(release?.next.id ?? '-'),
      this.indexKey(serviceName),
      service ? '1' : '0',
      String(service?.expected ?? 0),
      service ? JSON.stringify(service.next) : '',
      String(service?.next.revision ?? 0),
      release ? '1' : '0',
      String(release?.expected ?? 0),
      release ? JSON.stringify(release.next) : '',
      String(release?.next.revision ?? 0),
      release?.next.id ?? '',
      String(release ? Date.parse(release.next.createdAt) : 0),
    );
    return result === 1;
  }
}
