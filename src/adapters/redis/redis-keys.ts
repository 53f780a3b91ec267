/**
 * Key names shared by more than one Redis adapter: a release's record and its Slack message map
 * expire together, so the state store and the outbox must agree on where each lives. `prefix`
 * is the braced key prefix (`{greenlight}`), which keeps every key of a script in one slot.
 */
export const redisKeys = {
  release: (prefix: string, id: string): string => `${prefix}:release:${id}`,
  /** Release ids of a service, scored by creation time (ms): what /release history reads. */
  releaseIndex: (prefix: string, service: string): string => `${prefix}:releases:${service}`,
  /**
   * Where the Slack messages of one group (a release, a deploy operation) are recorded, message
   * key → `{ channel, ts }`. A release's map expires with its record.
   */
  messageMap: (prefix: string, group: string): string => `${prefix}:slack-messages:${group}`,
  /** The single map of every message, before maps were kept per group; read as a fallback. */
  legacyMessageMap: (prefix: string): string => `${prefix}:slack-messages`,
};

export const DAY_SECONDS = 24 * 3600;

/** The default retention of audit entries, ended releases and their messages. */
export const DEFAULT_RETENTION_DAYS = 400;
