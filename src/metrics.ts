import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** Every metric Greenlight exports on /metrics; one registry per process, no globals. */
export interface Metrics {
  readonly registry: Registry;
  readonly commands: Counter<'command' | 'outcome'>;
  readonly info: Gauge<'version' | 'role'>;
  readonly releases: Counter<'service' | 'outcome'>;
  readonly releaseDuration: Histogram<'service' | 'outcome'>;
  readonly rollbacks: Counter<'service' | 'trigger'>;
  readonly approvalWait: Histogram<'service'>;
  readonly jobFailures: Counter<'queue' | 'job'>;
  readonly slackErrors: Counter<'method' | 'error'>;
  readonly slackRetries: Counter<'reason'>;
  /** 1 while Slack accepts the bot token (auth.test), 0 while it does not; not readiness. */
  readonly slackUp: Gauge;
  readonly auditAuthFailures: Counter<'outcome'>;
  /** Audit entries removed because they were older than `audit.retentionDays`. */
  readonly auditTrimmed: Counter;
  /** Alertmanager calls for a release's silence that failed (the release went on regardless). */
  readonly alertmanagerFailures: Counter<'operation'>;
  /** Comms webhook delivery attempts that failed, by whether they will be retried. */
  readonly webhookFailures: Counter<'outcome'>;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'greenlight_' });
  const registers = [registry];
  return {
    registry,
    commands: new Counter({
      name: 'greenlight_commands_total',
      help: 'Slash commands received, by command and outcome (answered, refused, failed).',
      labelNames: ['command', 'outcome'],
      registers,
    }),
    info: new Gauge({
      name: 'greenlight_info',
      help: 'Always 1; labels carry the running version and process role.',
      labelNames: ['version', 'role'],
      registers,
    }),
    releases: new Counter({
      name: 'greenlight_releases_total',
      help: 'Releases that ended, by outcome (released, rejected, cancelled, failed, rolled_back).',
      labelNames: ['service', 'outcome'],
      registers,
    }),
    releaseDuration: new Histogram({
      name: 'greenlight_release_duration_seconds',
      help: 'From /release to the end of the release, by outcome.',
      labelNames: ['service', 'outcome'],
      buckets: [10, 60, 300, 900, 1800, 3600, 7200, 14400, 86400],
      registers,
    }),
    rollbacks: new Counter({
      name: 'greenlight_rollbacks_total',
      help: 'Rollbacks started, by trigger (manual or automatic).',
      labelNames: ['service', 'trigger'],
      registers,
    }),
    approvalWait: new Histogram({
      name: 'greenlight_approval_wait_seconds',
      help: 'From /release until the last approval.',
      labelNames: ['service'],
      buckets: [10, 60, 300, 900, 1800, 3600, 7200, 14400],
      registers,
    }),
    jobFailures: new Counter({
      name: 'greenlight_job_failures_total',
      help: 'Job attempts that failed, by queue and job name (retried ones included).',
      labelNames: ['queue', 'job'],
      registers,
    }),
    slackErrors: new Counter({
      name: 'greenlight_slack_api_errors_total',
      help: 'Slack Web API calls that failed, by method and error.',
      labelNames: ['method', 'error'],
      registers,
    }),
    slackRetries: new Counter({
      name: 'greenlight_slack_api_retries_total',
      help: 'Outbox messages put back to retry later, by reason (rate_limited, unavailable).',
      labelNames: ['reason'],
      registers,
    }),
    slackUp: new Gauge({
      name: 'greenlight_slack_up',
      help: 'Whether Slack accepted the bot token at the last auth.test (1) or not (0). Slack being down never makes Greenlight unready.',
      registers,
    }),
    auditAuthFailures: new Counter({
      name: 'greenlight_audit_auth_failures_total',
      help: 'GET /audit requests refused, by outcome (bad_token: wrong or missing token; rate_limited: too many failures from the address).',
      labelNames: ['outcome'],
      registers,
    }),
    auditTrimmed: new Counter({
      name: 'greenlight_audit_entries_trimmed_total',
      help: 'Audit stream entries removed because they were older than audit.retentionDays.',
      registers,
    }),
    alertmanagerFailures: new Counter({
      name: 'greenlight_alertmanager_failures_total',
      help: 'Alertmanager calls for a release silence that failed, by operation (hold, cut); the release goes on.',
      labelNames: ['operation'],
      registers,
    }),
    webhookFailures: new Counter({
      name: 'greenlight_webhook_failures_total',
      help: 'Comms webhook delivery attempts that failed, by outcome (retried, gave_up).',
      labelNames: ['outcome'],
      registers,
    }),
  };
}
