/** Queues Greenlight runs. Names are part of the Redis layout: extend, never rename. */
export const QUEUE_NAMES = {
  /** Release steps: deploy, health check, traffic switch, analysis, rollback. */
  steps: 'steps',
  /** Slack messages, retried on 429 and 5xx so an outage delays them and loses none. */
  outbox: 'outbox',
} as const;
export type QueueName = (typeof QUEUE_NAMES)[keyof typeof QUEUE_NAMES];

/**
 * BullMQ's key prefix: the braces are a Redis Cluster hash tag, so every key of every queue
 * (and the release state the Lua scripts touch beside them) lands in one slot.
 */
export function queuePrefix(keyPrefix: string): string {
  return `{${keyPrefix}}`;
}

/**
 * Deterministic job id, so a step enqueued twice is one job. BullMQ 6 rejects ids with `:` and
 * bare integers, so both are refused here, where the mistake is made.
 */
export function stepJobId(releaseId: string, step: string, attempt: number): string {
  const id = `${releaseId}-${step}-${attempt}`;
  if (id.includes(':')) throw new Error(`job id must not contain ":" (${id})`);
  if (!/^[A-Za-z0-9_.-]+$/.test(id)) throw new Error(`job id has unexpected characters (${id})`);
  return id;
}
