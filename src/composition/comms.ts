import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Dispatcher } from 'undici';
import { AlertmanagerSilences } from '../adapters/alertmanager/alertmanager-silences.ts';
import { BullmqCommsScheduler } from '../adapters/queue/comms-jobs.ts';
import { RedisIncidentLinks } from '../adapters/redis/redis-incident-links.ts';
import { RedisOnceMarks } from '../adapters/redis/redis-once-marks.ts';
import { SlackStakeholderNotices } from '../adapters/slack/stakeholder-notifier.ts';
import { QueuedCommsWebhooks } from '../adapters/webhooks/comms-webhooks.ts';
import type { CommsDeps } from '../app/comms-ports.ts';
import { leaseIssues } from '../config/comms-schema.ts';
import { ConfigError } from '../config/config-error.ts';
import type { GreenlightConfig } from '../config/greenlight-schema.ts';
import { scrubSecrets } from '../logger.ts';

/** `comms` from greenlight.yml, wired to the outbox, the steps queue, Redis and Alertmanager. */
export function buildComms(
  config: GreenlightConfig,
  parts: {
    redis: Redis;
    prefix: string;
    http: Dispatcher;
    steps: Queue;
    outbox: Queue;
    now: () => number;
    processEnv: NodeJS.ProcessEnv;
    logger: { warn(fields: object, message: string): void };
    /** Counts a failed Alertmanager call (greenlight_alertmanager_failures_total). */
    alertmanagerFailed?: (operation: 'hold' | 'cut') => void;
  },
): CommsDeps {
  const comms = config.comms;
  const reconcileSeconds = Number(parts.processEnv.GREENLIGHT_RECONCILE_INTERVAL_SECONDS || 60);
  const leaseProblems = leaseIssues(comms, reconcileSeconds);
  if (leaseProblems.length > 0) throw new ConfigError('greenlight.yml', leaseProblems);
  // Said at start-up, not first at the moment a release ends; the value itself is never logged.
  for (const hook of comms.webhooks)
    if (!parts.processEnv[hook.secretEnv])
      parts.logger.warn(
        // Fields are not scrubbed like messages: a password in the URL is taken out here.
        { url: scrubSecrets(hook.url), secretEnv: hook.secretEnv },
        `comms webhook secret ${hook.secretEnv} is not set: its events will not be delivered`,
      );
  const marks = new RedisOnceMarks(parts.redis, parts.prefix);
  return {
    config: comms,
    ...(comms.alertmanager
      ? {
          silences: new AlertmanagerSilences(
            comms.alertmanager,
            parts.redis,
            parts.prefix,
            parts.http,
            parts.alertmanagerFailed,
          ),
        }
      : {}),
    notices: new SlackStakeholderNotices(parts.outbox, config, marks),
    webhooks: new QueuedCommsWebhooks(parts.steps, comms.webhooks, marks, parts.now),
    scheduler: new BullmqCommsScheduler(parts.steps, marks, parts.now),
    links: new RedisIncidentLinks(parts.redis, parts.prefix, config.releases.retentionDays),
  };
}
