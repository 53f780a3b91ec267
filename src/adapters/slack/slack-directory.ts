import type { WebClient } from '@slack/web-api';
import type { Directory } from '../../app/ports.ts';

interface Cached {
  readonly users: readonly string[];
  readonly until: number;
}

/**
 * Role members: user ids as listed, user groups (S…) through `usergroups.users.list`, cached for
 * `ttlMs`. A Slack error never grants anything: the group then contributes nobody (and a stale
 * cache entry is not reused, since membership may have been revoked).
 */
export class SlackDirectory implements Directory {
  private readonly client: WebClient;
  private readonly ttlMs: number;
  private readonly now: () => number;
  private readonly onError: (group: string, error: unknown) => void;
  private readonly cache = new Map<string, Cached>();

  constructor(
    client: WebClient,
    options: {
      ttlMs?: number;
      now?: () => number;
      onError?: (group: string, error: unknown) => void;
    } = {},
  ) {
    this.client = client;
    this.ttlMs = options.ttlMs ?? 5 * 60_000;
    this.now = options.now ?? Date.now;
    this.onError = options.onError ?? (() => undefined);
  }

  async members(principals: readonly string[]): Promise<string[]> {
    const users = new Set<string>();
    for (const principal of principals) {
      if (!principal.startsWith('S')) {
        users.add(principal);
        continue;
      }
      for (const user of await this.group(principal)) users.add(user);
    }
    return [...users];
  }

  private async group(id: string): Promise<readonly string[]> {
    const cached = this.cache.get(id);
    if (cached !== undefined && cached.until > this.now()) return cached.users;
    try {
      const result = await this.client.usergroups.users.list({ usergroup: id });
      const users = result.users ?? [];
      this.cache.set(id, { users, until: this.now() + this.ttlMs });
      return users;
    } catch (error) {
      this.cache.delete(id);
      this.onError(id, error);
      return [];
    }
  }
}
