import { describe, expect, it } from 'vitest';
import { commsSignature, webhookBody } from '../../../../src/adapters/webhooks/comms-webhooks.ts';
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
