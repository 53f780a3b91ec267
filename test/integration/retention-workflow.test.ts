import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bumpAndRequestRelease,
  eventually,
  type ReleaseWorld,
  startReleaseWorld,
} from '../../testkit/release-world.ts';

const DAY_MS = 24 * 3600 * 1000;
const DAY_S = 24 * 3600;

/**
 * Retention through the running app: audit entries past `audit.retentionDays` are trimmed with a
 * warning and a metric, an ended release and its Slack messages get the `releases.retentionDays`
 * expiry (an active one none), and /release history answers over what is left.
 */
describe('retention by age in the running app', () => {
  let world: ReleaseWorld;
  let prefix: string;
  let releaseId: string;

  beforeAll(async () => {
    world = await startReleaseWorld({
      topLevelExtra: 'audit: { retentionDays: 400 }\nreleases: { retentionDays: 30 }\n',
    });
    prefix = `{${world.redis.keyPrefix}}`;
  });
  afterAll(async () => {
    await world?.close();
  });

  const ttl = (key: string) => world.redis.redis.ttl(key);
  const releaseState = async (id: string) =>
    (
      JSON.parse((await world.redis.redis.hget(`${prefix}:release:${id}`, 'json')) ?? '{}') as {
        state?: string;
      }
    ).state;

  it('trims audit entries older than audit.retentionDays with a warning and a metric', async () => {
    const redis = world.redis.redis;
    const key = `${prefix}:audit`;
    const [seconds] = await redis.time();
    const now = Number(seconds) * 1000;
    // An audit stream from long ago: two entries past the retention, one inside it.
    await redis.del(key);
    for (const [i, days] of [500, 401, 10].entries())
      await redis.xadd(
        key,
        `${now - days * DAY_MS}-${i}`,
        'entry',
        JSON.stringify({
          at: new Date(now - days * DAY_MS).toISOString(),
          who: 'U0OLD',
          what: `${days} days ago`,
        }),
      );
    await world.restart();

    // The first audit entry this process writes runs the trim.
    const { id } = await bumpAndRequestRelease(world, '2.4.1');
    releaseId = id;

    const warning = await eventually(
      () => world.app.logs().find((l) => String(l.msg).includes('audit entries older than')),
      (l) => l !== undefined,
    );
    expect(warning).toMatchObject({
      level: 40,
      removed: 2,
      msg: 'trimmed 2 audit entries older than 400 days (audit.retentionDays)',
    });
    const metrics = await (await fetch(`${world.app.url}/metrics`)).text();
    expect(metrics).toMatch(/^greenlight_audit_entries_trimmed_total 2$/m);
    const whats = (await redis.xrange(key, '-', '+')).map(([, f]) => String(f[1]));
    expect(whats.some((w) => w.includes('10 days ago'))).toBe(true);
    expect(whats.some((w) => w.includes('401 days ago') || w.includes('500 days ago'))).toBe(false);
    expect(whats.length).toBeGreaterThan(1);
  });

  it('never expires an active release or its messages; a deploy message map expires', async () => {
    expect(await releaseState(releaseId)).toBe('awaiting_approval');
    expect(await ttl(`${prefix}:release:${releaseId}`)).toBe(-1);
    const mapKey = `${prefix}:slack-messages:${releaseId}`;
    await eventually(
      () => world.redis.redis.hexists(mapKey, `${releaseId}-parent`),
      (n) => n === 1,
    );
    expect(await ttl(mapKey)).toBe(-1);
    // The /bump's own message map: kept 30 days after its last message.
    const deployMaps = (await world.redis.keys()).filter(
      (k) => k.includes(':slack-messages:') && !k.endsWith(`:${releaseId}`),
    );
    expect(deployMaps.length).toBeGreaterThan(0);
    for (const k of deployMaps) expect(await ttl(k)).toBeGreaterThan(30 * DAY_S - 60);
  });

  it('gives a release that ends its expiry then, with its Slack message map', async () => {
    expect(await world.click('U0LEAD', 'release_approve', releaseId)).toContain('switching');
    await eventually(
      () => releaseState(releaseId),
      (s) => s === 'released',
    );
    const releaseTtl = await ttl(`${prefix}:release:${releaseId}`);
    expect(releaseTtl).toBeGreaterThan(30 * DAY_S - 60);
    expect(releaseTtl).toBeLessThanOrEqual(30 * DAY_S);
    // The completion report is posted after the end: the map takes the record's expiry.
    const mapKey = `${prefix}:slack-messages:${releaseId}`;
    await eventually(
      () => world.redis.redis.hexists(mapKey, `${releaseId}-report`),
      (n) => n === 1,
    );
    expect(
      Math.abs((await ttl(mapKey)) - (await ttl(`${prefix}:release:${releaseId}`))),
    ).toBeLessThanOrEqual(1);
    expect(await ttl(`${prefix}:service:api`)).toBe(-1);
  });

  it('answers /release history over the retained range once records expired', async () => {
    const before = await world.command('U0DEV2', '/release', 'history api 5');
    expect(before).toContain('Last 1 release of api');
    expect(before).toContain('2.4.0 → 2.4.1 (patch) · *released*');

    // What the expiry does, 30 days early.
    await world.redis.redis.del(`${prefix}:release:${releaseId}`);
    const after = await world.command('U0DEV2', '/release', 'history api 5');
    expect(after).toContain('api has no releases on record (ended releases are kept 30 days)');
    expect(await world.redis.redis.zcard(`${prefix}:releases:api`)).toBe(0);
    // The service carries on without the record of its last release.
    expect(await world.command('U0DEV2', '/release', 'status api')).toContain('2.4.1');
  });
});
