import { auditRoute } from '../adapters/http/audit-route.ts';
import { FailureRateLimit } from '../adapters/http/failure-rate-limit.ts';
import { type OpsRoute, opsRoutes, type ReadinessCheck } from '../adapters/http/ops-routes.ts';
import { SlackHealth } from '../adapters/slack/slack-health.ts';
import type { Env } from '../config/env.ts';
import type { AppLogger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { Adapters } from './adapters.ts';

/** How long a Slack health result counts as current (and how often it is checked). */
export const SLACK_HEALTH_FRESH_MS = 10_000;

/** Slack's health, a metric and a log line: watched, never waited for (see SlackHealth). */
export function slackHealthOf(
  { healthClient }: Adapters,
  metrics: Metrics,
  logger: AppLogger,
  now: () => number,
): SlackHealth {
  return new SlackHealth({
    probe: async () => {
      await healthClient.auth.test();
    },
    report: (up) => metrics.slackUp.set(up),
    log: logger,
    freshMs: SLACK_HEALTH_FRESH_MS,
    now,
  });
}

/** Health, readiness, metrics and the audit trail, for Slack's port or their own. */
export function opsRouteList(
  checks: ReadinessCheck[],
  slackHealth: SlackHealth,
  { auditLog }: Adapters,
  env: Env,
  metrics: Metrics,
  now: () => number,
): OpsRoute[] {
  return [
    ...opsRoutes(checks, metrics.registry, [slackHealth]),
    auditRoute(env.GREENLIGHT_AUDIT_TOKEN, auditLog, {
      limit: new FailureRateLimit({ maxFailures: 5, windowMs: 60_000, now }),
      onRefused: (outcome) => metrics.auditAuthFailures.inc({ outcome }),
    }),
  ];
}
