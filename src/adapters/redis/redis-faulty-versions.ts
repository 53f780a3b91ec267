import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { FaultyMark, FaultyVersions } from '../../app/ports.ts';

const markSchema = z.object({
  version: z.string(),
  by: z.string(),
  reason: z.string(),
  at: z.string(),
  releaseId: z.string(),
});

/** Known-bad versions per service, one hash per service. */
export class RedisFaultyVersions implements FaultyVersions {
  private readonly redis: Redis;
  private readonly prefix: string;

  constructor(redis: Redis, prefix: string) {
    this.redis = redis;
    this.prefix = prefix;
  }

  private key(service: string): string {
    return `${this.prefix}:faulty:${service}`;
  }

  async mark(service: string, mark: FaultyMark): Promise<void> {
    await this.redis.hset(this.key(service), mark.version, JSON.stringify(mark));
  }

  async get(service: string, version: string): Promise<FaultyMark | null> {
    const json = await this.redis.hget(this.key(service), version);
    return json === null ? null : markSchema.parse(JSON.parse(json));
  }

  async unmark(service: string, version: string): Promise<FaultyMark | null> {
    const existing = await this.get(service, version);
    if (existing !== null) await this.redis.hdel(this.key(service), version);
    return existing;
  }
}
