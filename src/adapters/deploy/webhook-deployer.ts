import { createHmac } from 'node:crypto';
import { type Dispatcher, request } from 'undici';
import type { DeployOutcome, DeployRequest } from '../../app/ports.ts';
import { tailOf } from './command-deployer.ts';

export interface WebhookDeploySpec {
  readonly url: string;
  readonly secret: string;
  readonly timeoutSeconds: number;
  readonly slotUrl: string;
}

/**
 * Signature of a webhook body: `sha256=` + HMAC-SHA256 of `{timestamp}.{body}`, so a receiver can
 * check both origin and freshness (the scheme Slack and Stripe use).
 */
export function webhookSignature(secret: string, timestamp: number, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** Worded like a cancelled deploy command (`deploy command was cancelled`). */
const CANCELLED = 'deploy webhook was cancelled';

/**
 * POSTs the deploy as signed JSON; any 2xx is success, the reply's tail is shown otherwise.
 * Aborting `deploy.signal` abandons the request (the receiver may still be deploying: a webhook
 * cannot be killed, only no longer waited for).
 */
export async function callDeployWebhook(
  spec: WebhookDeploySpec,
  deploy: DeployRequest,
  dispatcher: Dispatcher,
  nowSeconds = () => Math.floor(Date.now() / 1000),
): Promise<DeployOutcome> {
  const body = JSON.stringify({
    service: deploy.service,
    version: deploy.version,
    slot: deploy.slot,
    slotUrl: spec.slotUrl,
    releaseId: deploy.releaseId,
  });
  const timestamp = nowSeconds();
  if (deploy.signal?.aborted) return { ok: false, reason: CANCELLED, outputTail: '' };
  const timeout = AbortSignal.timeout(spec.timeoutSeconds * 1000);
  try {
    const res = await request(spec.url, {
      method: 'POST',
      dispatcher,
      body,
      signal: deploy.signal ? AbortSignal.any([timeout, deploy.signal]) : timeout,
      headers: {
        'content-type': 'application/json',
        'x-greenlight-timestamp': String(timestamp),
        'x-greenlight-signature': webhookSignature(spec.secret, timestamp, body),
      },
    });
    const text = await res.body.text();
    if (res.statusCode >= 200 && res.statusCode < 300) return { ok: true };
    return {
      ok: false,
      reason: `deploy webhook answered ${res.statusCode}`,
      outputTail: tailOf(text),
    };
  } catch (error) {
    const e = error as { name?: string; code?: string; message?: string };
    const reason = deploy.signal?.aborted
      ? CANCELLED
      : e.name === 'TimeoutError' || e.name === 'AbortError'
        ? `deploy webhook did not answer within ${spec.timeoutSeconds} s`
        : `deploy webhook unreachable (${e.code ?? e.message})`;
    return { ok: false, reason, outputTail: '' };
  }
}
