import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { IncidentLink, IncidentLinks } from '../../app/comms-ports.ts';

const linkSchema = z.object({ url: z.string(), by: z.string(), at: z.string() });

/** Incident report links by release, kept as long as a release record is by default. */
export class RedisIncidentLinks implements IncidentLinks {
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly retentionSeconds: number;

  constructor(redis: Redis, prefix: string, retentionDays: number) {
    this.redis = redis;
    this.prefix = prefix;
    this.retentionSeconds = Math.round(retentionDays * 24 * 3600);
  }

  private key(releaseId: string): string {
    return `${this.prefix}:incident-link:${releaseId}`;
  }

  async get(releaseId: string): Promise<IncidentLink | null> {
    const json = await this.redis.get(this.key(releaseId));
    if (json === null) return null;
    const parsed = linkSchema.safeParse(JSON.parse(json));
    return parsed.success ? parsed.data : null;
  }

  async set(releaseId: string, link: IncidentLink): Promise<void> {
    await this.redis.set(this.key(releaseId), JSON.stringify(link), 'EX', this.retentionSeconds);
  }
}
