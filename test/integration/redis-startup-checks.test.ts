import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkRedisForStartup } from '../../src/adapters/redis/redis-checks.ts';
import { type PrivateRedis, startPrivateRedis } from '../../testkit/private-redis.ts';

const NOTHING_ON_DISK =
  'Redis keeps nothing on disk: a Redis restart loses every release and queued step. Turn on appendonly yes.';

// startPrivateRedis starts with --save '' --appendonly no; the arguments here come after them.
const SERVERS = {
  evicting: ['--maxmemory-policy', 'allkeys-lru', '--appendonly', 'yes'],
  aof: ['--maxmemory-policy', 'noeviction', '--appendonly', 'yes'],
  rdb: ['--maxmemory-policy', 'noeviction', '--save', '3600 1'],
  neither: ['--maxmemory-policy', 'noeviction'],
  // As managed Redis services do: CONFIG is not available to clients.
  noConfig: ['--maxmemory-policy', 'allkeys-lru', '--rename-command', 'CONFIG', ''],
} as const;
type Server = keyof typeof SERVERS;

describe('checkRedisForStartup', () => {
  const servers = new Map<Server, PrivateRedis>();
  const clients = new Map<Server, Redis>();
  const check = (server: Server, allowEviction = false) => {
    const client = clients.get(server);
    if (client === undefined) throw new Error(`no client for ${server}`);
    return checkRedisForStartup(client, { allowEviction });
  };

  beforeAll(async () => {
    await Promise.all(
      (Object.keys(SERVERS) as Server[]).map(async (name) => {
        const server = await startPrivateRedis([...SERVERS[name]]);
        servers.set(name, server);
        clients.set(name, new Redis(server.url, { maxRetriesPerRequest: 1 }));
      }),
    );
  });

  afterAll(async () => {
    for (const client of clients.values()) client.disconnect();
    await Promise.all([...servers.values()].map((server) => server.stop()));
  });

  it('refuses a Redis that evicts keys, saying how to fix it or override', async () => {
    const verdict = await check('evicting');
    expect(verdict.refuse).toContain('maxmemory-policy is allkeys-lru, not noeviction');
    expect(verdict.refuse).toContain('Set maxmemory-policy noeviction');
    expect(verdict.refuse).toContain('GREENLIGHT_ALLOW_EVICTION=true');
    expect(verdict.warnings).toEqual([]);
  });

  it('only warns about eviction when GREENLIGHT_ALLOW_EVICTION is set', async () => {
    const verdict = await check('evicting', true);
    expect(verdict.refuse).toBeUndefined();
    expect(verdict.warnings).toEqual([
      expect.stringMatching(
        /maxmemory-policy is allkeys-lru, not noeviction.*Starting anyway because GREENLIGHT_ALLOW_EVICTION is set/,
      ),
    ]);
  });

  it('has nothing to say about noeviction with AOF, or with RDB snapshots', async () => {
    expect(await check('aof')).toEqual({ warnings: [] });
    expect(await check('rdb')).toEqual({ warnings: [] });
  });

  it('warns, without refusing, when Redis keeps nothing on disk', async () => {
    expect(await check('neither')).toEqual({ warnings: [NOTHING_ON_DISK] });
  });

  it('warns, without refusing, when CONFIG is disabled and nothing can be checked', async () => {
    const verdict = await check('noConfig');
    expect(verdict.refuse).toBeUndefined();
    expect(verdict.warnings).toEqual([
      expect.stringMatching(/^Redis refused CONFIG GET \(.*unknown command.*\).*noeviction/),
    ]);
  });
});
