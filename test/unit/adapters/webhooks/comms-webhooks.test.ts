import { createHmac } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent } from 'undici';
import { describe, expect, it } from 'vitest';
import { commsHandlers } from '../../../../src/adapters/queue/comms-jobs.ts';
import {
  COMMS_WEBHOOK_JOB,
  commsSignature,
  commsWebhookJobSchema,
  deliverCommsWebhook,
  QueuedCommsWebhooks,
  webhookBody,
} from '../../../../src/adapters/webhooks/comms-webhooks.ts';
import { releaseRecord } from '../../../../testkit/release-fixtures.ts';

/** RedisOnceMarks in memory: `release/mark` entries, some given beforehand. */
function memoryMarks(given: Iterable<string> = []) {
  const marks = new Set(given);
  return {
    has: async (id: string, mark: string) => marks.has(`${id}/${mark}`),
    list: async (id: string) =>
      [...marks].filter((k) => k.startsWith(`${id}/`)).map((k) => k.slice(id.length + 1)),
    mark: async (id: string, mark: string) => void marks.add(`${id}/${mark}`),
  };
}

describe('comms webhook signatures', () => {
  it('signs v1:{timestamp}:{body} with HMAC-SHA256 (known answer from openssl)', () => {
    // printf 'v1:1700000000:{"event":"released"}' | openssl dgst -sha256 -hmac 'whsec-test'
    expect(commsSignature('whsec-test', 1_700_000_000, '{"event":"released"}')).toBe(
      'v1=e3b814ea7e7274b3055833d18887c6d54ccfd804af4be75fb49f9e59382418e6',
    );
  });

  it('carries the event, an idempotency id and the release, and nothing typed beyond the reason', () => {
    const at = '2026-11-24T10:00:00.000Z';
    const body = webhookBody(
      releaseRecord(at, {
        state: 'rolled_back',
        rollback: { by: 'U0LEAD', reason: 'errors', at },
        approvals: [{ role: 'lead', user: 'U0LEAD', at }],
      }),
      'rolled_back',
      at,
    );
    expect(body).toEqual({
      event: 'rolled_back',
      id: 'rel-1-rolled_back',
      at,
      release: {
        id: 'rel-1',
        service: 'api',
        version: '2.4.1',
        fromVersion: '2.4.0',
        type: 'patch',
        strategy: 'bluegreen',
        state: 'rolled_back',
        requester: 'U0DEV1',
        rollback: { by: 'U0LEAD', reason: 'errors', at },
      },
    });
  });
});

describe('comms webhook delivery', () => {
  it("gives up on a receiver that hangs after the hook's timeoutMs, as a failure to retry", async () => {
    const held: ServerResponse[] = [];
    const receiver = createServer((_req, res) => held.push(res));
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    const agent = new Agent();
    try {
      const started = Date.now();
      const delivery = deliverCommsWebhook(
        { v: 1, url, idempotencyKey: 'rel-1-released', body: { event: 'released' } },
        [{ url, secretEnv: 'HOOK_SECRET', events: ['released'], timeoutMs: 300 }],
        { HOOK_SECRET: 'whsec-test' },
        agent,
      );
      // Retryable (a plain Error, not BullMQ's UnrecoverableError), naming what happened.
      await expect(delivery).rejects.toThrow(/^webhook http:\/\/127\.0\.0\.1:\d+ unreachable/);
      await expect(delivery).rejects.not.toHaveProperty('name', 'UnrecoverableError');
      expect(held).toHaveLength(1);
      // The hook's 300 ms, not the 10 s default: a margin no loaded machine closes.
      expect(Date.now() - started).toBeLessThan(8000);
    } finally {
      for (const res of held) res.destroy();
      await agent.close();
      await new Promise((resolve) => receiver.close(resolve));
    }
  });
});

describe('two hooks on one URL (one receiver, two secrets)', () => {
  const hmac = (secret: string, timestamp: string, body: string) =>
    `v1=${createHmac('sha256', secret).update(`v1:${timestamp}:${body}`).digest('hex')}`;

  it('signs each delivery with its own hook’s secret, also after the hooks are reordered', async () => {
    const seen: { signature: string; timestamp: string; body: string }[] = [];
    const receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => {
        body += chunk;
      });
      req.on('end', () => {
        seen.push({
          signature: String(req.headers['x-greenlight-signature']),
          timestamp: String(req.headers['x-greenlight-timestamp']),
          body,
        });
        res.end('ok');
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    const agent = new Agent();
    const env = { TEAM_A_SECRET: 'secret-of-a', TEAM_B_SECRET: 'secret-of-b' };
    const hookA = {
      url,
      secretEnv: 'TEAM_A_SECRET',
      events: ['released' as const],
      timeoutMs: 5000,
    };
    const hookB = {
      url,
      secretEnv: 'TEAM_B_SECRET',
      events: ['released' as const],
      timeoutMs: 5000,
    };
    try {
      // Queued the way the sender queues them, one job per hook.
      const jobs: unknown[] = [];
      const queue = { add: async (_name: string, data: unknown) => jobs.push(data) };
      const onceMarks = memoryMarks();
      const sender = new QueuedCommsWebhooks(
        queue as never,
        [hookA, hookB],
        onceMarks as never,
        () => Date.parse('2026-11-27T03:00:00Z'),
      );
      await sender.send(releaseRecord('2026-11-27T02:00:00.000Z'), 'released');
      expect(jobs).toHaveLength(2);
      const [forA, forB] = jobs.map((j) => commsWebhookJobSchema.parse(j));
      if (forA === undefined || forB === undefined) throw new Error('two jobs expected');
      await deliverCommsWebhook(forA, [hookA, hookB], env, agent);
      await deliverCommsWebhook(forB, [hookA, hookB], env, agent);
      // A deploy that swapped the two hooks between queueing and delivery.
      await deliverCommsWebhook(forB, [hookB, hookA], env, agent);
      expect(seen.map((s) => s.signature)).toEqual([
        hmac('secret-of-a', seen[0]?.timestamp ?? '', seen[0]?.body ?? ''),
        hmac('secret-of-b', seen[1]?.timestamp ?? '', seen[1]?.body ?? ''),
        hmac('secret-of-b', seen[2]?.timestamp ?? '', seen[2]?.body ?? ''),
      ]);
      // A delivery queued before hooks were told apart goes to the first hook with its URL.
      const { secretEnv: _s, ...older } = forB;
      await deliverCommsWebhook(older, [hookA, hookB], env, agent);
      expect(seen[3]?.signature).toBe(
        hmac('secret-of-a', seen[3]?.timestamp ?? '', seen[3]?.body ?? ''),
      );
      // Each team's receiver sees its own idempotency key: one is not a retry of the other.
      expect([forA.idempotencyKey, forB.idempotencyKey]).toEqual([
        'rel-1-released-TEAM_A_SECRET',
        'rel-1-released-TEAM_B_SECRET',
      ]);
      // On a URL two hooks share, a renamed secret cannot be told from a removed hook: given up.
      const renamedShared = deliverCommsWebhook(
        forB,
        [hookA, { ...hookB, secretEnv: 'TEAM_B_SECRET_V2' }],
        { ...env, TEAM_B_SECRET_V2: 'rotated-b' },
        agent,
      );
      await expect(renamedShared).rejects.toThrow('webhook no longer configured');
      // A hook alone on its URL whose secret was renamed in place (a rotation): its queued
      // delivery is signed with the new secret.
      const soloJobs: unknown[] = [];
      await new QueuedCommsWebhooks(
        { add: async (_name: string, data: unknown) => soloJobs.push(data) } as never,
        [hookA],
        onceMarks as never,
        () => Date.parse('2026-11-27T03:00:00Z'),
      ).send(releaseRecord('2026-11-27T02:00:00.000Z', { id: 'rel-2' }), 'released');
      const solo = commsWebhookJobSchema.parse(soloJobs[0]);
      expect(solo.idempotencyKey).toBe('rel-2-released');
      // (At its place, as the handler reads it from the job id, `-hook0`.)
      await deliverCommsWebhook(
        { ...solo, hook: 0 },
        [{ ...hookA, secretEnv: 'TEAM_A_SECRET_V2' }],
        { ...env, TEAM_A_SECRET_V2: 'rotated-a' },
        agent,
      );
      expect(seen[4]?.signature).toBe(
        hmac('rotated-a', seen[4]?.timestamp ?? '', seen[4]?.body ?? ''),
      );
      // A hook taken out of the configuration is not delivered with another hook's secret.
      const gone = deliverCommsWebhook(forB, [hookA], env, agent);
      await expect(gone).rejects.toThrow('webhook no longer configured');
      await expect(gone).rejects.toHaveProperty('name', 'UnrecoverableError');
      // Queued before deliveries named their hook: the job id still says which (`-hook1`).
      const beforeUpgrade = commsHandlers(
        { comms: { config: { webhooks: [hookA, hookB] } } } as never,
        env,
        agent,
      )[COMMS_WEBHOOK_JOB];
      await beforeUpgrade?.run({ v: 1, url, idempotencyKey: 'rel-1-released', body: forB.body }, {
        id: 'rel-1-released-hook1',
        attemptsMade: 0,
        opts: { attempts: 10 },
      } as never);
      expect(seen[5]?.signature).toBe(
        hmac('secret-of-b', seen[5]?.timestamp ?? '', seen[5]?.body ?? ''),
      );
      // A deploy removed A, the first of the two: A's queued delivery is not sent under B's secret.
      const removed = deliverCommsWebhook({ ...forA, hook: 0 }, [hookB], env, agent);
      await expect(removed).rejects.toThrow('webhook no longer configured');
      expect(seen).toHaveLength(6);
    } finally {
      await agent.close();
      await new Promise((resolve) => receiver.close(resolve));
    }
  });
});

describe('hooks reordered between two runs of one comms step', () => {
  it('the hook not yet queued gets the event, the one queued does not get it twice', async () => {
    const hook = (name: string) => ({
      url: `https://hooks.example/${name}`,
      secretEnv: `${name.toUpperCase()}_SECRET`,
      events: ['released' as const],
      timeoutMs: 5000,
    });
    const a = hook('a');
    const b = hook('b');
    // BullMQ's queue as far as this goes: a job id already taken adds nothing.
    const jobs = new Map<string, { url: string }>();
    let crashOn: string | undefined = b.url;
    const queue = {
      add: async (_name: string, data: { url: string }, options: { jobId: string }) => {
        if (data.url === crashOn) throw new Error('worker killed');
        if (!jobs.has(options.jobId)) jobs.set(options.jobId, data);
      },
    };
    const onceMarks = memoryMarks();
    const release = releaseRecord('2026-11-27T02:00:00.000Z');
    const now = () => Date.parse('2026-11-27T03:00:00Z');
    // The first run queues a's delivery, then dies before b's.
    await expect(
      new QueuedCommsWebhooks(queue as never, [a, b], onceMarks as never, now).send(
        release,
        'released',
      ),
    ).rejects.toThrow('worker killed');
    // A deploy swaps the two hooks; the step runs again.
    crashOn = undefined;
    await new QueuedCommsWebhooks(queue as never, [b, a], onceMarks as never, now).send(
      release,
      'released',
    );
    const queuedUrls = [...jobs.values()].map((j) => j.url).sort();
    expect(queuedUrls).toEqual([a.url, b.url]);
  });

  it('a delivery marked by its place before the upgrade is not queued again', async () => {
    const jobs: unknown[] = [];
    const onceMarks = memoryMarks(['rel-1/webhook-released-0']);
    const hook = {
      url: 'https://hooks.example/a',
      secretEnv: 'A_SECRET',
      events: ['released' as const],
      timeoutMs: 5000,
    };
    // The delivery queued then is no longer kept (trimmed): its place is all there is.
    const queue = {
      add: async (_name: string, data: unknown) => jobs.push(data),
      getJob: async () => undefined,
    };
    await new QueuedCommsWebhooks(queue as never, [hook], onceMarks as never, () =>
      Date.parse('2026-11-27T03:00:00Z'),
    ).send(releaseRecord('2026-11-27T02:00:00.000Z'), 'released');
    expect(jobs).toEqual([]);
  });

  /** BullMQ as far as this goes: a job id already taken adds nothing; jobs are read by id. */
  function keyedWorld(
    marked: string[] = [],
    queued: [string, { url: string; secretEnv?: string; idempotencyKey?: string }][] = [],
  ) {
    const jobs = new Map<string, { url: string; secretEnv?: string; idempotencyKey?: string }>(
      queued,
    );
    const lookups: string[] = [];
    const queue = {
      add: async (_n: string, data: { url: string }, o: { jobId: string }) => {
        if (!jobs.has(o.jobId)) jobs.set(o.jobId, data);
      },
      getJob: async (id: string) => {
        lookups.push(id);
        const data = jobs.get(id);
        return data === undefined ? undefined : { id, data };
      },
    };
    const onceMarks = memoryMarks(marked);
    const send = (hooks: ReturnType<typeof hookNamed>[]) =>
      new QueuedCommsWebhooks(queue as never, hooks, onceMarks as never, () => 0).send(
        releaseRecord('2026-11-27T02:00:00.000Z'),
        'started',
      );
    return { jobs, send, lookups };
  }
  const hookNamed = (name: string, secretEnv = `${name.toUpperCase()}_SECRET`) => ({
    url: `https://hooks.example/${name}`,
    secretEnv,
    events: ['started' as const],
    timeoutMs: 5000,
  });

  it('a secret renamed in place (a rotation) between two runs is the same receiver: not queued again', async () => {
    const w = keyedWorld();
    await w.send([hookNamed('a')]);
    await w.send([hookNamed('a', 'A_SECRET_V2')]);
    expect(w.jobs.size).toBe(1);
  });

  it('at the upgrade, a mark by place counts for the hook its kept delivery was for, not for the one now there', async () => {
    // Before: config [a], 'started' queued as rel-1-started-hook0 and marked by place 0. The
    // upgrade's deploy also puts a new hook b first: [b, a].
    const w = keyedWorld(
      ['rel-1/webhook-started-0'],
      [['rel-1-started-hook0', { url: hookNamed('a').url, idempotencyKey: 'rel-1-started' }]],
    );
    await w.send([hookNamed('b'), hookNamed('a')]);
    const urls = [...w.jobs.values()].map((j) => j.url).sort();
    expect(urls).toEqual([hookNamed('a').url, hookNamed('b').url]);
    // The next run of the comms step knows both by their own marks: no old job read again.
    const read = w.lookups.length;
    await w.send([hookNamed('b'), hookNamed('a')]);
    expect(w.lookups).toHaveLength(read);
    expect(w.jobs.size).toBe(2);
  });

  it('at the upgrade, a hook whose secret the same deploy renamed is not queued again', async () => {
    const before = {
      url: hookNamed('a').url,
      secretEnv: 'A_SECRET',
      idempotencyKey: 'rel-1-started',
    };
    const w = keyedWorld(['rel-1/webhook-started-0'], [['rel-1-started-hook0', before]]);
    await w.send([hookNamed('a', 'A_SECRET_V2')]);
    expect(w.jobs.size).toBe(1);
  });

  it('at the upgrade, a hook sent at a place the shorter configuration no longer has is not queued again', async () => {
    const w = keyedWorld(
      ['rel-1/webhook-started-0', 'rel-1/webhook-started-1'],
      [
        ['rel-1-started-hook0', { url: hookNamed('x').url, idempotencyKey: 'rel-1-started' }],
        ['rel-1-started-hook1', { url: hookNamed('a').url, idempotencyKey: 'rel-1-started' }],
      ],
    );
    await w.send([hookNamed('a')]);
    expect(w.jobs.size).toBe(2);
  });
});
