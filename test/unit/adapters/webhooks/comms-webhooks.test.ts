import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent } from 'undici';
import { describe, expect, it } from 'vitest';
import {
  commsSignature,
  deliverCommsWebhook,
  webhookBody,
} from '../../../../src/adapters/webhooks/comms-webhooks.ts';
import { releaseRecord } from '../../../../testkit/release-fixtures.ts';

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
