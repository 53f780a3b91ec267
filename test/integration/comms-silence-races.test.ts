import { createServer, type Server, type Socket } from 'node:net';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AlertmanagerSilences } from '../../src/adapters/alertmanager/alertmanager-silences.ts';
import { RedisLocks } from '../../src/adapters/redis/redis-locks.ts';
import type { AppDeps } from '../../src/app/app-deps.ts';
import type { CommsDeps } from '../../src/app/comms-ports.ts';
import { runCommsStep } from '../../src/app/use-cases/release-comms.ts';
import { type AlertmanagerFixture, startAlertmanager } from '../../testkit/alertmanager-fixture.ts';
import { type MemoryWorld, memoryWorld } from '../../testkit/memory-deps.ts';
import { type RedisFixture, redisFixture } from '../../testkit/redis-fixture.ts';
import { releaseRecord } from '../../testkit/release-fixtures.ts';

const config = (url: string) => `
alertsChannel: C0ALERTS
roles: { lead: [U0LEAD], security: [U0SEC], team: [U0DEV1], cto: [U0CTO] }
comms:
  alertmanager: { url: "${url}", matchers: [{ name: team, value: payments }], leaseSeconds: 60, tailSeconds: 5, timeoutMs: 300 }
services:
  api:
    channel: C0RELEASES
    bootstrap: { production: blue, version: 2.4.0 }
    slots: { blue: { url: "http://127.0.0.1:3001" }, green: { url: "http://127.0.0.1:3002" } }
    deploy: { command: [./deploy.sh] }
    traffic: { haproxy: { runtimeApi: "127.0.0.1:9999", backend: api, servers: { blue: b, green: g } } }
`;

/**
 * The comms step on real parts where the races live: Alertmanager, Redis (the silence record
 * and the lock), the real adapter. Stakeholder messages and webhooks are recorded only.
 */
function commsWorld(url: string, redis: RedisFixture, http: Agent) {
  const world = memoryWorld(config(url), new Date());
  const prefix = `{${redis.keyPrefix}}`;
  const comms: CommsDeps = {
    config: world.deps.config.comms,
    silences: new AlertmanagerSilences(
      world.deps.config.comms.alertmanager ?? { url, matchers: [], timeoutMs: 300 },
      redis.redis,
      prefix,
      http,
    ),
    notices: { notice: async () => {}, incidentReminder: async () => {} },
    webhooks: { send: async () => {} },
    scheduler: { enqueue: async () => {}, scheduleReminder: async () => {} },
    links: { get: async () => null, set: async () => {} },
  };
  const deps: AppDeps = { ...world.deps, comms, locks: new RedisLocks(redis.redis, prefix) };
  return { world, deps, prefix };
}

describe('the silence lease under races, lost records and a silent Alertmanager', () => {
  let am: AlertmanagerFixture;
  let redis: RedisFixture;
  let blackhole: Server;
  const sockets: Socket[] = [];
  const http = new Agent();

  beforeAll(async () => {
    am = await startAlertmanager();
    redis = await redisFixture('comms-races');
    // Accepts connections and never answers: an Alertmanager that hangs.
    blackhole = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => blackhole.listen(0, '127.0.0.1', resolve));
  }, 30_000);

  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => blackhole?.close(resolve));
    await am?.close();
    await redis?.cleanup();
    await http.close();
  });

  const seed = (world: MemoryWorld, id: string, state: 'observing' | 'released') =>
    world.releases.set(
      id,
      releaseRecord(new Date().toISOString(), {
        id,
        state,
        approvals: [{ role: 'lead', user: 'U0LEAD', at: new Date().toISOString() }],
      }),
    );
  const live = async (id: string) =>
    (await am.silences()).filter((s) => s.comment.includes(id) && s.status.state !== 'expired');

  it('makes one silence when several comms steps for a release run at once', async () => {
    const { world, deps } = commsWorld(am.url, redis, http);
    seed(world, 'rel-race', 'observing');
    await Promise.all(
      Array.from({ length: 6 }, () => runCommsStep(deps, { releaseId: 'rel-race' })),
    );
    expect(await live('rel-race')).toHaveLength(1);
  });

  it('cuts the silence of an ended release whose record was lost, found by its comment', async () => {
    const { world, deps, prefix } = commsWorld(am.url, redis, http);
    seed(world, 'rel-lost', 'observing');
    await runCommsStep(deps, { releaseId: 'rel-lost' });
    const [held] = await live('rel-lost');
    expect(Date.parse(held?.endsAt ?? '')).toBeGreaterThan(Date.now() + 50_000);
    await redis.redis.del(`${prefix}:silence:rel-lost`);
    seed(world, 'rel-lost', 'released');
    await runCommsStep(deps, { releaseId: 'rel-lost' });
    const [cut] = await live('rel-lost');
    expect(cut?.id).toBe(held?.id);
    expect(Date.parse(cut?.endsAt ?? '')).toBeLessThanOrEqual(Date.now() + 6_000);
    expect(world.posts.filter((p) => p.startsWith('releaseNote'))).toEqual([]);
  });

  it('holds one silence through every canary step and the rollback, cuts it to the tail when rolled back, and never makes it again', async () => {
    const { world, deps } = commsWorld(am.url, redis, http);
    const at = () => new Date().toISOString();
    const canary = (stepIndex: number) => ({
      steps: [5, 20, 50, 100],
      stepIndex,
      stepStartedAt: at(),
    });
    const ids = new Set<string>();
    const stages: Parameters<typeof releaseRecord>[1][] = [
      { state: 'switching', strategy: 'canary', canary: canary(0) },
      { state: 'ramping', strategy: 'canary', canary: canary(1) },
      { state: 'ramping', strategy: 'canary', canary: { ...canary(2), awaitingPromotion: true } },
      {
        state: 'rolling_back',
        strategy: 'canary',
        rollback: { by: 'U0LEAD', reason: 'x', at: at() },
      },
    ];
    for (const stage of stages) {
      world.releases.set('rel-canary', releaseRecord(at(), { id: 'rel-canary', ...stage }));
      await runCommsStep(deps, { releaseId: 'rel-canary' });
      const held = await live('rel-canary');
      expect(held.map((s) => s.status.state)).toEqual(['active']);
      expect(Date.parse(held[0]?.endsAt ?? '')).toBeGreaterThan(Date.now() + 50_000);
      for (const s of held) ids.add(s.id);
    }
    expect(ids.size).toBe(1);
    world.releases.set(
      'rel-canary',
      releaseRecord(at(), {
        id: 'rel-canary',
        state: 'rolled_back',
        strategy: 'canary',
        rollback: { by: 'U0LEAD', reason: 'x', at: at() },
      }),
    );
    await runCommsStep(deps, { releaseId: 'rel-canary' });
    const [cut] = await live('rel-canary');
    expect(cut?.id).toBe([...ids][0]);
    expect(Date.parse(cut?.endsAt ?? '')).toBeLessThanOrEqual(Date.now() + 6_000);
    // A late comms step (a tick within the lease) after the tail ran out: nothing new.
    await new Promise((r) => setTimeout(r, 8_000));
    await runCommsStep(deps, { releaseId: 'rel-canary' });
    expect(await live('rel-canary')).toEqual([]);
    expect(world.posts).toEqual([]);
  }, 30_000);

  it('gives a hanging Alertmanager one timeout and one thread line, and never throws', async () => {
    const address = blackhole.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    const { world, deps } = commsWorld(`http://127.0.0.1:${port}`, redis, http);
    seed(world, 'rel-hang', 'observing');
    const started = Date.now();
    await expect(runCommsStep(deps, { releaseId: 'rel-hang' })).resolves.toBeUndefined();
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(world.posts).toEqual([
      expect.stringMatching(
        /^releaseNote: Alertmanager did not take the silence .*did not answer within 300 ms/,
      ),
    ]);
  });
});
