import type { WebClient } from '@slack/web-api';
import type { Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuditTrim, RedisAuditLog } from '../../src/adapters/redis/redis-audit-log.ts';
import { redisKeys } from '../../src/adapters/redis/redis-keys.ts';
import { RedisStateStore } from '../../src/adapters/redis/redis-state-store.ts';
import type { OutboxMessage } from '../../src/adapters/slack/outbox-message.ts';
import { outboxHandler } from '../../src/adapters/slack/outbox-worker.ts';
import { releaseHistory } from '../../src/app/use-cases/release-history.ts';
import { parseConfig } from '../../src/config/load-config.ts';
import type { Release } from '../../src/domain/release.ts';
import { type RedisFixture, redisFixture } from '../../testkit/redis-fixture.ts';
import { releaseRecord } from '../../testkit/release-fixtures.ts';

const DAY_MS = 24 * 3600 * 1000;
const DAY_S = 24 * 3600;

let fx: RedisFixture;
let prefix: string;
let run = 0;
/** A fresh braced prefix per test: no test sees another's keys. */
const nextPrefix = () => `{${fx.keyPrefix}}:t${++run}`;

beforeAll(async () => {
  fx = await redisFixture('retention');
});
afterAll(async () => {
  await fx.cleanup();
});

const at = (offsetMs = 0) => new Date(Date.now() + offsetMs).toISOString();

async function redisNowMs(): Promise<number> {
  const [seconds, micros] = await fx.redis.time();
  return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
}

describe('the audit stream is kept by age (audit.retentionDays)', () => {
  it('trims entries older than the retention with XTRIM MINID, keeps the rest and reports the trim', async () => {
    prefix = nextPrefix();
    const key = `${prefix}:audit`;
    const now = await redisNowMs();
    const entry = (what: string) => JSON.stringify({ at: 'x', who: 'greenlight', what });
    // Stream ids are ms timestamps: these were written 500, 450 and 401 days ago, then 399 and 1.
    for (const [i, days] of [500, 450, 401, 399, 1].entries())
      await fx.redis.xadd(key, `${now - days * DAY_MS}-${i}`, 'entry', entry(`${days} days ago`));
    const trims: AuditTrim[] = [];
    const log = new RedisAuditLog(fx.redis, prefix, {
      retentionDays: 400,
      onTrimmed: (t) => trims.push(t),
    });

    const trim = await log.trim();

    expect(trim.removed).toBe(3);
    expect(trims).toEqual([trim]);
    const cutoff = Number.parseInt(trim.cutoffId, 10);
    expect(Math.abs(cutoff - (now - 400 * DAY_MS))).toBeLessThan(60_000);
    const left = await log.read({ limit: 10 });
    expect(left.map((r) => r.entry.what)).toEqual(['399 days ago', '1 days ago']);

    // Nothing older left: the next trim removes nothing and says nothing.
    expect((await log.trim()).removed).toBe(0);
    expect(trims).toHaveLength(1);
  });

  it('trims from append at most once per trimEveryMs, and appends are never capped by count', async () => {
    prefix = nextPrefix();
    const key = `${prefix}:audit`;
    const now = await redisNowMs();
    for (let i = 0; i < 5; i++)
      await fx.redis.xadd(key, `${now - 401 * DAY_MS}-${i}`, 'entry', JSON.stringify({ i }));
    let clock = 1_000_000;
    const trims: AuditTrim[] = [];
    const log = new RedisAuditLog(fx.redis, prefix, {
      retentionDays: 400,
      trimEveryMs: 60_000,
      now: () => clock,
      onTrimmed: (t) => trims.push(t),
    });
    const append = (what: string) => log.append({ at: new Date().toISOString(), who: 'U1', what });

    await append('first');
    expect(trims.map((t) => t.removed)).toEqual([5]);
    for (let i = 0; i < 20; i++) await append(`more ${i}`);
    expect(await fx.redis.xlen(key)).toBe(21);

    // The next trim comes with the first append after the interval (nothing is old: no report).
    clock += 60_000;
    await append('later');
    expect(trims).toHaveLength(1);
    expect(await fx.redis.xlen(key)).toBe(22);
  });

  it('a failed trim never fails the append it rode on', async () => {
    prefix = nextPrefix();
    const failures: unknown[] = [];
    const log = new RedisAuditLog(fx.redis, prefix, {
      retentionDays: 400,
      onTrimFailed: (e) => failures.push(e),
    });
    log.trim = async () => {
      throw new Error('XTRIM refused');
    };
    await log.append({ at: 'x', who: 'U1', what: 'still recorded' });
    expect(failures).toHaveLength(1);
    expect((await log.read({ limit: 5 })).map((r) => r.entry.what)).toEqual(['still recorded']);
  });
});

describe('ended releases expire after their retention; active ones never', () => {
  /** Writes `next` over whatever is stored (revision + 1). */
  async function write(store: RedisStateStore, next: Release): Promise<Release> {
    const stored = await store.getRelease(next.id);
    const revision = (stored?.revision ?? 0) + 1;
    const release = { ...next, revision };
    expect(await store.commit({ release: { next: release, expected: revision - 1 } })).toBe(true);
    return release;
  }

  it('gives an ended release and its Slack message map an expiry counted from its end', async () => {
    prefix = nextPrefix();
    const store = new RedisStateStore(fx.redis, prefix, { releaseDays: 30 });
    const releaseKey = redisKeys.release(prefix, 'rel-1');
    const mapKey = redisKeys.messageMap(prefix, 'rel-1');

    let release = await write(store, releaseRecord(at(), { id: 'rel-1' }));
    await fx.redis.hset(mapKey, 'rel-1-parent', JSON.stringify({ channel: 'C1', ts: '1.0' }));
    expect(await fx.redis.ttl(releaseKey)).toBe(-1);
    expect(await fx.redis.ttl(mapKey)).toBe(-1);

    // Active states stay forever, whatever they go through.
    release = await write(store, { ...release, state: 'switching' });
    release = await write(store, { ...release, state: 'observing' });
    expect(await fx.redis.ttl(releaseKey)).toBe(-1);

    // It ends later: the expiry starts then.
    release = await write(store, { ...release, state: 'released', releasedAt: at() });
    const ttl = await fx.redis.ttl(releaseKey);
    expect(ttl).toBeGreaterThan(30 * DAY_S - 10);
    expect(ttl).toBeLessThanOrEqual(30 * DAY_S);
    expect(
      Math.abs((await fx.redis.pttl(mapKey)) - (await fx.redis.pttl(releaseKey))),
    ).toBeLessThan(1000);

    // A later write to the ended release (a rollback asked outside its window) keeps the clock.
    await fx.redis.expire(releaseKey, 1000);
    release = await write(store, {
      ...release,
      pendingRollback: { by: 'U1', reason: 'slow', at: at() },
    });
    // Still counting down from the end (-1 would mean the write dropped the expiry).
    expect(await fx.redis.ttl(releaseKey)).toBeGreaterThan(990);
    expect(await fx.redis.ttl(releaseKey)).toBeLessThanOrEqual(1000);

    // Rolled back from released: active again, so it never expires meanwhile...
    release = await write(store, { ...release, state: 'rolling_back' });
    expect(await fx.redis.ttl(releaseKey)).toBe(-1);
    expect(await fx.redis.ttl(mapKey)).toBe(-1);
    // ...and it gets a full retention again from its new end.
    await write(store, { ...release, state: 'rolled_back' });
    expect(await fx.redis.ttl(releaseKey)).toBeGreaterThan(30 * DAY_S - 10);
    expect(await fx.redis.ttl(mapKey)).toBeGreaterThan(30 * DAY_S - 10);
  });

  it.each(['rejected', 'cancelled', 'failed', 'rolled_back'] as const)(
    'expires a release that ends %s',
    async (state) => {
      prefix = nextPrefix();
      const store = new RedisStateStore(fx.redis, prefix, { releaseDays: 400 });
      const release = await write(store, releaseRecord(at(), { id: 'rel-e' }));
      await write(store, { ...release, state });
      expect(await fx.redis.ttl(redisKeys.release(prefix, 'rel-e'))).toBeGreaterThan(
        400 * DAY_S - 10,
      );
    },
  );

  it('leaves the service record alone', async () => {
    prefix = nextPrefix();
    const store = new RedisStateStore(fx.redis, prefix, { releaseDays: 1 });
    const release = releaseRecord(at(), { id: 'rel-s', state: 'released', revision: 1 });
    const service = {
      service: 'api',
      production: 'green' as const,
      slots: {
        blue: { version: '2.4.0', health: 'healthy' as const, updatedAt: at() },
        green: { version: '2.4.1', health: 'healthy' as const, updatedAt: at() },
      },
      operation: null,
      lastReleaseId: 'rel-s',
      revision: 1,
    };
    expect(
      await store.commit({
        service: { next: service, expected: 0 },
        release: { next: release, expected: 0 },
      }),
    ).toBe(true);
    expect(await fx.redis.ttl(`${prefix}:service:api`)).toBe(-1);
    expect(await fx.redis.ttl(redisKeys.release(prefix, 'rel-s'))).toBeGreaterThan(0);
  });

  it('answers /release history over expired records and drops their ids from the index', async () => {
    prefix = nextPrefix();
    // One second of retention, so records really expire in Redis during the test.
    const store = new RedisStateStore(fx.redis, prefix, { releaseDays: 1 / DAY_S });
    const states = ['released', 'rolled_back', 'awaiting_approval', 'rejected', 'observing'];
    for (const [i, state] of states.entries()) {
      await write(
        store,
        releaseRecord(at(i * 100 - 500), {
          id: `rel-${i + 1}`,
          version: `2.4.${i + 1}`,
          state: state as Release['state'],
        }),
      );
    }
    const index = redisKeys.releaseIndex(prefix, 'api');
    expect(await fx.redis.zcard(index)).toBe(5);
    expect((await store.listReleases('api', 5)).map((r) => r.id)).toEqual([
      'rel-5',
      'rel-4',
      'rel-3',
      'rel-2',
      'rel-1',
    ]);

    await new Promise((r) => setTimeout(r, 1300));

    // rel-4 (ended, expired) sat between the active ones: the list reads on past it.
    expect((await store.listReleases('api', 2)).map((r) => r.id)).toEqual(['rel-5', 'rel-3']);
    expect((await store.listReleases('api', 10)).map((r) => r.id)).toEqual(['rel-5', 'rel-3']);
    expect(await fx.redis.zrange(index, '0', '-1')).toEqual(['rel-3', 'rel-5']);

    const config = parseConfig(`
alertsChannel: C0ALERTS
roles: { lead: [U0LEAD], security: [U0SEC], team: [U0DEV], cto: [U0CTO] }
services:
  api:
    channel: C0RELEASES
    bootstrap: { production: blue, version: 2.4.0 }
    slots: { blue: { url: "http://10.0.0.1" }, green: { url: "http://10.0.0.2" } }
    deploy: { command: [./deploy.sh] }
    traffic: { haproxy: { runtimeApi: "127.0.0.1:9999", backend: api, servers: { blue: b, green: g } } }
`);
    const deps = { store, config };
    const history = await releaseHistory(deps, { service: 'api', limit: 5 });
    expect(history.message).toBe('Last 2 releases of api');
    expect(history.details?.[0]).toContain('2.4.0 → 2.4.5');
    expect(history.details?.[0]).toContain('2.4.0 → 2.4.3');
    expect(history.details?.[0]).not.toContain('2.4.0 → 2.4.4');
    expect(history.hint).toBe('No older releases on record (ended releases are kept 400 days).');

    const empty = await releaseHistory(deps, { service: 'web', limit: 5 });
    expect(empty.message).toBe('web has no releases on record (ended releases are kept 400 days).');
  });

  it('drops ids created longer than the retention ago from the history index', async () => {
    prefix = nextPrefix();
    const store = new RedisStateStore(fx.redis, prefix, { releaseDays: 400 });
    const index = redisKeys.releaseIndex(prefix, 'api');
    await write(store, releaseRecord(at(-500 * DAY_MS), { id: 'rel-old', state: 'released' }));
    await write(store, releaseRecord(at(-300 * DAY_MS), { id: 'rel-mid', state: 'released' }));
    expect(await fx.redis.zcard(index)).toBe(2);
    await write(store, releaseRecord(at(), { id: 'rel-new' }));
    expect(await fx.redis.zrevrange(index, 0, -1)).toEqual(['rel-new', 'rel-mid']);
  });
});

describe('Slack message maps expire with what they are about', () => {
  function fakeSlack() {
    const calls: { method: string; args: Record<string, unknown> }[] = [];
    let ts = 0;
    const client = {
      chat: {
        postMessage: async (args: Record<string, unknown>) => {
          calls.push({ method: 'postMessage', args });
          return {
            ok: true,
            channel: args.channel,
            ts: `1700000000.${String(++ts).padStart(6, '0')}`,
          };
        },
        update: async (args: Record<string, unknown>) => {
          calls.push({ method: 'update', args });
          return { ok: true };
        },
      },
      auth: { test: async () => ({ ok: true, url: 'https://example.slack.com/' }) },
    };
    return { client: client as unknown as WebClient, calls };
  }

  const message = (changes: Partial<OutboxMessage>): OutboxMessage => ({
    v: 1,
    mode: 'post',
    key: 'k',
    channel: 'C0RELEASES',
    text: 'hello',
    blocks: [],
    ...changes,
  });

  it('keeps a release map as long as the release record, and a deploy map a retention after its last message', async () => {
    prefix = nextPrefix();
    const slack = fakeSlack();
    const handler = outboxHandler({
      client: slack.client,
      redis: fx.redis,
      prefix,
      pause: async () => {},
      retentionDays: 7,
    });
    const send = (m: OutboxMessage) => handler.run(m, {} as Job);
    const store = new RedisStateStore(fx.redis, prefix, { releaseDays: 30 });
    const mapKey = redisKeys.messageMap(prefix, 'rel-m');
    const release = releaseRecord(at(), { id: 'rel-m', revision: 1 });
    await store.commit({ release: { next: release, expected: 0 } });

    // Active release: its messages never expire.
    await send(message({ mode: 'upsert', key: 'rel-m-parent', group: 'rel-m' }));
    await send(message({ key: 'rel-m-t1', group: 'rel-m', threadKey: 'rel-m-parent' }));
    expect(await fx.redis.hlen(mapKey)).toBe(2);
    expect(await fx.redis.ttl(mapKey)).toBe(-1);
    expect(slack.calls[1]?.args.thread_ts).toBe('1700000000.000001');

    // It ends, then its report is posted: the map follows the record's expiry.
    await store.commit({
      release: { next: { ...release, state: 'released', revision: 2 }, expected: 1 },
    });
    await fx.redis.pexpire(redisKeys.release(prefix, 'rel-m'), 5_000_000);
    await send(message({ key: 'rel-m-report', group: 'rel-m', threadKey: 'rel-m-parent' }));
    const pttl = await fx.redis.pttl(mapKey);
    expect(pttl).toBeGreaterThan(4_990_000);
    expect(pttl).toBeLessThanOrEqual(5_000_000);

    // A deploy has no release record: kept 7 days after its last message.
    await send(message({ mode: 'upsert', key: 'bump-1', group: 'bump-1' }));
    await send(message({ mode: 'upsert', key: 'bump-1', group: 'bump-1', text: 'done' }));
    expect(slack.calls.at(-1)?.method).toBe('update');
    const deployTtl = await fx.redis.ttl(redisKeys.messageMap(prefix, 'bump-1'));
    expect(deployTtl).toBeGreaterThan(7 * DAY_S - 10);
    expect(deployTtl).toBeLessThanOrEqual(7 * DAY_S);
  });

  it('still finds messages recorded in the shared map of an older version, and lets that map expire', async () => {
    prefix = nextPrefix();
    const slack = fakeSlack();
    const legacy = redisKeys.legacyMessageMap(prefix);
    await fx.redis.hset(
      legacy,
      'rel-o-parent',
      JSON.stringify({ channel: 'C0RELEASES', ts: '9.1' }),
    );
    const handler = outboxHandler({
      client: slack.client,
      redis: fx.redis,
      prefix,
      pause: async () => {},
      retentionDays: 400,
    });
    const send = (m: OutboxMessage) => handler.run(m, {} as Job);

    await send(message({ key: 'rel-o-t2', group: 'rel-o', threadKey: 'rel-o-parent' }));
    expect(slack.calls[0]?.args.thread_ts).toBe('9.1');
    await send(message({ mode: 'upsert', key: 'rel-o-parent', group: 'rel-o', text: 'edited' }));
    expect(slack.calls[1]).toMatchObject({ method: 'update', args: { ts: '9.1' } });
    expect(await fx.redis.ttl(legacy)).toBeGreaterThan(400 * DAY_S - 10);

    // A job queued by an older version (no group) is still delivered and recorded there.
    await send(message({ key: 'old-job' }));
    expect(await fx.redis.hexists(legacy, 'old-job')).toBe(1);
  });
});
