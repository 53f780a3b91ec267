import { createHmac } from 'node:crypto';
import {
  createServer,
  type IncomingHttpHeaders,
  type Server,
  type ServerResponse,
} from 'node:http';
import { type Job, Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commsHandlers } from '../../src/adapters/queue/comms-jobs.ts';
import { routeJobs } from '../../src/adapters/queue/job-router.ts';
import { RedisOnceMarks } from '../../src/adapters/redis/redis-once-marks.ts';
import { SlackStakeholderNotices } from '../../src/adapters/slack/stakeholder-notifier.ts';
import { QueuedCommsWebhooks } from '../../src/adapters/webhooks/comms-webhooks.ts';
import type { AppDeps } from '../../src/app/app-deps.ts';
import { parseConfig } from '../../src/config/load-config.ts';
import { type RedisFixture, redisFixture } from '../../testkit/redis-fixture.ts';
import { releaseRecord } from '../../testkit/release-fixtures.ts';

const SECRET = 'once-hook-secret';

const yaml = (hookUrl: string) => `
alertsChannel: C0ALERTS
roles: { lead: [U0LEAD], security: [U0SEC], team: [U0DEV1], cto: [U0CTO] }
comms:
  channels: [C0STAKE]
  # A hung receiver is given up on after 3 s (10 s by default).
  webhooks: [{ url: "${hookUrl}", secretEnv: ONCE_HOOK_SECRET, events: [released], timeoutMs: 3000 }]
services:
  api:
    channel: C0RELEASES
    bootstrap: { production: blue, version: 2.4.0 }
    slots: { blue: { url: "http://127.0.0.1:3001" }, green: { url: "http://127.0.0.1:3002" } }
    deploy: { command: [./deploy.sh] }
    traffic: { haproxy: { runtimeApi: "127.0.0.1:9999", backend: api, servers: { blue: b, green: g } } }
`;

interface Delivery {
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * Stakeholder notices and webhooks on real Redis and BullMQ: what the outbox and the steps queue
 * get, and what a receiver sees when it fails, hangs and recovers.
 */
describe('comms: each thing sent once, and webhooks delivered at least once', () => {
  let redis: RedisFixture;
  let connection: Redis;
  let outbox: Queue;
  let steps: Queue;
  let receiver: Server;
  let hookUrl = '';
  const deliveries: Delivery[] = [];
  /** How the receiver answers each request, in turn; then 200. */
  const answers: ('500' | 'hang' | '200')[] = [];
  const hung: ServerResponse[] = [];

  beforeAll(async () => {
    redis = await redisFixture('comms-once');
    connection = new Redis(redis.url, { maxRetriesPerRequest: null });
    const prefix = `{${redis.keyPrefix}}`;
    outbox = new Queue('outbox', { connection, prefix });
    steps = new Queue('steps', { connection, prefix });
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString();
      });
      req.on('end', () => {
        deliveries.push({ headers: req.headers, body });
        const answer = answers.shift() ?? '200';
        if (answer === 'hang') hung.push(res);
        else res.writeHead(Number(answer)).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const address = receiver.address();
    hookUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/hook`;
  }, 30_000);

  afterAll(async () => {
    for (const res of hung) res.destroy();
    await new Promise((resolve) => receiver?.close(resolve));
    await outbox?.close();
    await steps?.close();
    await connection?.quit();
    await redis?.cleanup();
  });

  it('does not tell stakeholders again that a release started when it is rolled back a day later', async () => {
    const config = parseConfig(yaml(hookUrl));
    const prefix = `{${redis.keyPrefix}}`;
    const notices = new SlackStakeholderNotices(
      outbox,
      config,
      new RedisOnceMarks(redis.redis, prefix),
    );
    const at = '2026-11-24T10:00:00.000Z';
    const posted = async () =>
      (await outbox.getJobs(['waiting', 'delayed', 'completed'])).map((j) => j.data.text as string);
    await notices.notice(releaseRecord(at, { state: 'observing' }), 'started');
    expect(await posted()).toEqual(['Release started: api 2.4.0 → 2.4.1 (patch)']);
    // Posted, then trimmed from the queue as BullMQ does with completed jobs after a day.
    await outbox.obliterate({ force: true });
    const rolledBack = releaseRecord(at, {
      state: 'rolled_back',
      rollback: { by: 'U0LEAD', reason: 'errors', at: '2026-11-25T11:00:00.000Z' },
    });
    await notices.notice(rolledBack, 'started');
    await notices.notice(rolledBack, 'rolled_back');
    expect(await posted()).toEqual(['Rolled back: api is back on 2.4.0 (2.4.1 withdrawn)']);
  });

  it('retries a receiver that answered 500, and one that hung past the timeout, with the same idempotency key and a fresh signature, counting each failure', async () => {
    const config = parseConfig(yaml(hookUrl));
    const prefix = `{${redis.keyPrefix}}`;
    const failures: string[] = [];
    const deps = { comms: { config: config.comms } } as unknown as AppDeps;
    const handlers = commsHandlers(deps, { ONCE_HOOK_SECRET: SECRET }, new Agent(), (outcome) =>
      failures.push(outcome),
    );
    const worker = new Worker('steps', routeJobs(handlers) as (job: Job) => Promise<unknown>, {
      connection: new Redis(redis.url, { maxRetriesPerRequest: null }),
      prefix,
    });
    try {
      const webhooks = new QueuedCommsWebhooks(
        steps,
        config.comms.webhooks,
        new RedisOnceMarks(redis.redis, prefix),
        Date.now,
      );
      answers.push('500', 'hang');
      const release = releaseRecord(new Date().toISOString(), {
        id: 'rel-hook',
        state: 'released',
      });
      await webhooks.send(release, 'released');
      await webhooks.send(release, 'released'); // a comms step run twice queues it once
      const deadline = Date.now() + 60_000;
      while (deliveries.length < 3 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 200));
      expect(deliveries).toHaveLength(3);
      expect(deliveries.map((d) => d.headers['idempotency-key'])).toEqual([
        'rel-hook-released',
        'rel-hook-released',
        'rel-hook-released',
      ]);
      // The same body every time, each signed for the moment it was sent.
      expect(new Set(deliveries.map((d) => d.body)).size).toBe(1);
      for (const d of deliveries) {
        const ts = String(d.headers['x-greenlight-timestamp']);
        expect(d.headers['x-greenlight-signature']).toBe(
          `v1=${createHmac('sha256', SECRET).update(`v1:${ts}:${d.body}`).digest('hex')}`,
        );
      }
      expect(failures).toEqual(['retried', 'retried']);
      // One job for the hook (its id names the release, the event and the hook's first place).
      const ids = (await steps.getJobs()).map((j) => j.id ?? '');
      const ours = ids.filter((id) => /^rel-hook-released-[0-9a-f]{12}-hook0$/.test(id));
      expect(ours).toHaveLength(1);
      await expect
        .poll(async () => steps.getJobState(ours[0] ?? ''), { timeout: 10_000 })
        .toBe('completed');
    } finally {
      await worker.close();
    }
  }, 90_000);
});
