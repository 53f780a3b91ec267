import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningGreenlight, startGreenlight } from '../../testkit/greenlight-process.ts';
import { freePort } from '../../testkit/ports.ts';
import { type PrivateRedis, startPrivateRedis } from '../../testkit/private-redis.ts';
import {
  bumpAndRequestRelease,
  buttonValue,
  eventually,
  type ReleaseWorld,
  SIGNING_SECRET,
  startReleaseWorld,
  trafficSplit,
} from '../../testkit/release-world.ts';
import { SlackSender } from '../../testkit/slack-sender.ts';

const SERVICES = Array.from({ length: 20 }, (_, i) => `svc${String(i + 1).padStart(2, '0')}`);

describe('two web and two worker processes, concurrent commands on 20 services', () => {
  let world: ReleaseWorld;
  const extra: RunningGreenlight[] = [];
  let webs: SlackSender[];

  beforeAll(async () => {
    world = await startReleaseWorld({ services: SERVICES, env: { GREENLIGHT_ROLE: 'web' } });
    const web2 = await startGreenlight({
      ...world.env,
      GREENLIGHT_ROLE: 'web',
      PORT: String(await freePort()),
    });
    extra.push(web2);
    for (let i = 0; i < 2; i += 1) {
      extra.push(
        await startGreenlight({
          ...world.env,
          GREENLIGHT_ROLE: 'worker',
          PORT: String(await freePort()),
        }),
      );
    }
    webs = [world.sender, new SlackSender(web2.url, SIGNING_SECRET)];
  }, 120_000);

  afterAll(async () => {
    for (const p of extra) await p.stop('SIGTERM');
    await world?.close();
  });

  it('serialises operations per service: of two simultaneous /bump per service exactly one runs, once', async () => {
    const urls = SERVICES.flatMap((service) =>
      webs.map((web) => ({
        service,
        web,
        url: world.slack.newResponseUrl(),
        user: web === webs[0] ? 'U0DEV1' : 'U0DEV2',
      })),
    );
    await Promise.all(
      urls.map(({ service, web, url, user }) =>
        web.slashCommand({ command: '/bump', text: service, user_id: user, response_url: url }),
      ),
    );
    for (const service of SERVICES) {
      const answers = await eventually(
        () =>
          urls
            .filter((u) => u.service === service)
            .flatMap((u) => world.slack.responsesTo(u.url).map((r) => String(r.body.text))),
        (a) => a.length === 2,
      );
      expect(
        answers.filter((a) => a.includes(`Deploying ${service} 2.4.1`)),
        service,
      ).toHaveLength(1);
      expect(
        answers.filter((a) => a.includes(`${service} is busy`)),
        service,
      ).toHaveLength(1);
    }
    await eventually(
      () =>
        world.slack.messages('C0RELEASES').filter((m) => m.text.includes('2.4.1 is on STANDBY'))
          .length,
      (n) => n === SERVICES.length,
      60_000,
    );
    for (const service of SERVICES) {
      expect(await world.services[service]?.deployRuns(), service).toHaveLength(1);
      expect(world.services[service]?.green.state.version).toBe('2.4.1');
    }
  });

  it('releases all 20 concurrently with double-clicked approvals from both web processes: each switches exactly once', async () => {
    await Promise.all(
      SERVICES.map((service, i) =>
        webs[i % 2]?.slashCommand({
          command: '/release',
          text: service,
          user_id: 'U0DEV1',
          response_url: world.slack.newResponseUrl(),
        }),
      ),
    );
    const ids = await eventually(
      () =>
        world.slack
          .messages('C0RELEASES')
          .filter(
            (m) =>
              m.thread_ts === undefined && JSON.stringify(m.blocks).includes('release_approve'),
          )
          .map((m) => ({
            ts: m.ts,
            id: JSON.stringify(m.blocks).match(/"value":"(rel-[^":]+)/)?.[1] ?? '',
          })),
      (found) => found.length === SERVICES.length,
      60_000,
    );
    await Promise.all(
      ids.flatMap(({ id, ts }) =>
        webs.map((web) =>
          web.click({
            action_id: 'release_approve',
            value: buttonValue(world.slack, id),
            user_id: 'U0LEAD',
            message_ts: ts,
            response_url: world.slack.newResponseUrl(),
          }),
        ),
      ),
    );
    await eventually(
      () =>
        world.slack.messages('C0RELEASES').filter((m) => m.text.includes('New PRODUCTION: green'))
          .length,
      (n) => n === SERVICES.length,
      // What this asserts is "exactly once", not how fast: 20 switches, their checks and their
      // thread replies share two workers, and one CI run needed more than 90 s for the last few.
      200_000,
    ).catch(async (error: unknown) => {
      // Once (a loaded clean-clone run) 3 of 20 never said so: say where each of those stands.
      const stuck = [];
      for (const { id, ts } of ids) {
        const thread = world.slack.messages('C0RELEASES').filter((m) => m.thread_ts === ts);
        if (thread.some((m) => m.text.includes('Traffic switched'))) continue;
        const raw = await world.redis.redis.hget(
          `{${world.redis.keyPrefix}}:release:${id}`,
          'json',
        );
        const r = raw ? (JSON.parse(raw) as Record<string, unknown>) : null;
        const timeline = (r?.timeline as unknown[] | undefined)?.slice(-4);
        stuck.push(
          `${id}: ${r?.service} ${r?.state} rev ${r?.revision} ${r?.failure ?? ''} ${JSON.stringify(timeline)}\n  thread: ${thread.map((m) => m.text.slice(0, 200)).join(' | ')}`,
        );
      }
      const logs = extra.slice(1).flatMap((p) => p.output.slice(-60));
      // A stalled outbox (messages queued, none delivered) reads differently from stuck steps.
      const connection = new Redis(world.redis.url, { maxRetriesPerRequest: null });
      const outbox = new Queue('outbox', { connection, prefix: `{${world.redis.keyPrefix}}` });
      const counts = await outbox.getJobCounts().catch((e: Error) => ({ error: e.message }));
      const active = await outbox.getActive().catch(() => []);
      await outbox.close();
      connection.disconnect();
      const queued = `outbox: ${JSON.stringify(counts)}; active: ${active.map((j) => `${j.id} since ${j.processedOn}`).join(', ') || 'none'}`;
      throw new Error(
        `${(error as Error).message}\n${stuck.join('\n')}\n${queued}\nworker output (tail):\n${logs.join('\n')}`,
      );
    });
    for (const { ts } of ids) {
      const thread = world.slack.messages('C0RELEASES').filter((m) => m.thread_ts === ts);
      expect(thread.filter((m) => m.text.includes('Traffic switched blue → green'))).toHaveLength(
        1,
      );
      expect(thread.filter((m) => m.text.includes('approved as lead'))).toHaveLength(1);
    }
    for (const service of SERVICES.slice(0, 5)) {
      expect(await trafficSplit(world.haproxy.frontendUrl(service), 4)).toEqual({ green: 4 });
    }
  }, 240_000);
});

describe('Redis restarted (AOF on) in the middle of a release', () => {
  let redis: PrivateRedis;
  let world: ReleaseWorld;

  beforeAll(async () => {
    redis = await startPrivateRedis([
      '--appendonly',
      'yes',
      '--appendfsync',
      'always',
      '--maxmemory-policy',
      'noeviction',
    ]);
    world = await startReleaseWorld({ env: { REDIS_URL: redis.url } });
  }, 60_000);

  afterAll(async () => {
    await world?.close();
    await redis?.stop();
  });

  it('loses nothing: the pending release survives, its approval switches traffic once', async () => {
    const { id, parentTs } = await bumpAndRequestRelease(world, '2.4.1');
    const parent = { ts: parentTs };

    await redis.restart();

    const answer = await eventually(
      () => world.click('U0LEAD', 'release_approve', id).catch((e: Error) => e.message),
      (a) => a.includes('switching api to green'),
      30_000,
      500,
    );
    expect(answer).toContain('All approvals are in');
    // A BullMQ worker whose fetch failed while Redis was away tries again 15 s later (its
    // runRetryDelay): the step and then the outbox may each wait that long. Late is not lost.
    await eventually(
      () =>
        world.slack
          .messages('C0RELEASES')
          .filter((m) => m.thread_ts === parent?.ts && m.text.includes('New PRODUCTION')),
      (m) => m.length === 1,
      60_000,
    );
    expect(await trafficSplit(world.haproxy.frontendUrl('api'))).toEqual({ green: 10 });
    const status = await world.command('U0DEV2', '/release', 'status api');
    expect(status).toContain('Last release: 2.4.0 → 2.4.1 (patch) released');
  }, 180_000);
});
