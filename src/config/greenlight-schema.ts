import { z } from 'zod';
import { WEEKDAYS } from '../domain/calendar.ts';
import { DEFAULT_RELEASE_TYPES } from '../domain/release-policy.ts';
import { RELEASE_TYPES } from '../domain/version.ts';
import { freezeSchema, hhmm, timezone } from './calendar-schema.ts';
import { commsIssues, commsSchema } from './comms-schema.ts';
import { checkFlags, flagProvidersSchema } from './flags-schema.ts';
import { ringProblems } from './ring-checks.ts';
import { channelId, positiveInt, slackPrincipal } from './schema-values.ts';
import { serviceName, serviceSchema } from './services-schema.ts';

export { WEEKDAYS } from '../domain/calendar.ts';
export { SLOTS, type Slot } from '../domain/slots.ts';
export { RELEASE_TYPES, type ReleaseType } from '../domain/version.ts';
export { type CommandName, RESERVED_SERVICE_NAMES } from './services-schema.ts';

/** How long Redis keeps a kind of record, in whole days (at most 100 years). */
const retentionSchema = z.strictObject({
  retentionDays: positiveInt.max(36_500).default(400),
});

export const greenlightConfigSchema = z
  .strictObject({
    timezone: timezone.default('UTC'),
    alertsChannel: channelId,
    roles: z.record(z.string().regex(/^[A-Za-z][A-Za-z0-9_-]*$/), z.array(slackPrincipal).min(1)),
    freeze: z.array(freezeSchema).default([]),
    blockedDays: z.array(z.enum(WEEKDAYS)).default([]),
    /** Local hours (in `timezone`) when releases may run; outside them only a hotfix passes. */
    releaseHours: z
      .strictObject({ from: hhmm, to: hhmm })
      .refine((h) => h.from < h.to, { error: 'expected "from" before "to"', path: ['to'] })
      .optional(),
    /** Role whose approval lets a hotfix through a freeze or a blocked day. */
    freezeException: z.string().optional(),
    /** Clicks and commands count only from this Slack workspace (and Enterprise Grid org). */
    workspace: z
      .strictObject({
        teamId: z
          .string()
          .regex(/^T[A-Z0-9]+$/)
          .optional(),
        enterpriseId: z
          .string()
          .regex(/^E[A-Z0-9]+$/)
          .optional(),
      })
      .optional(),
    /** The audit stream keeps `retentionDays` of entries; older ones are trimmed with a warning. */
    audit: retentionSchema.default(retentionSchema.parse({})),
    /**
     * An ended release (its record, its Slack message map and its line in /release history) is
     * kept `retentionDays` after it ended; deploy messages as long after their last change.
     * Active releases never expire.
     */
    releases: retentionSchema.default(retentionSchema.parse({})),
    /** Stakeholder channels, Alertmanager silences and signed webhooks (comms-schema.ts). */
    comms: commsSchema.default(commsSchema.parse({})),
    /** Feature-flag providers that service `flags` name (Unleash first). */
    flagProviders: flagProvidersSchema.default({}),
    services: z
      .record(serviceName, serviceSchema)
      .refine((s) => Object.keys(s).length > 0, { error: 'expected at least one service' }),
  })
  .superRefine((config, ctx) => {
    const known = new Set(Object.keys(config.roles));
    const requireRole = (role: string, path: (string | number)[]) => {
      if (!known.has(role)) {
        ctx.addIssue({
          code: 'custom',
          path,
          message: `unknown role "${role}"; define it under roles (known: ${[...known].join(', ') || 'none'})`,
        });
      }
    };
    if (config.freezeException !== undefined) {
      requireRole(config.freezeException, ['freezeException']);
    }
    checkFlags(config, requireRole, (path, message) =>
      ctx.addIssue({ code: 'custom', path, message }),
    );
    for (const [name, service] of Object.entries(config.services)) {
      for (const type of RELEASE_TYPES) {
        const override = service.releaseTypes?.[type];
        if (override !== undefined) {
          override.approvals.forEach((role, i) => {
            requireRole(role, ['services', name, 'releaseTypes', type, 'approvals', i]);
          });
          continue;
        }
        const missing = DEFAULT_RELEASE_TYPES[type].approvals.filter((role) => !known.has(role));
        if (missing.length > 0) {
          ctx.addIssue({
            code: 'custom',
            path: ['services', name, 'releaseTypes', type],
            message: `${type} releases need approval from ${missing.join(' and ')} by default; define ${missing.map((r) => `roles.${r}`).join(' and ')} or set releaseTypes.${type}.approvals`,
          });
        }
      }
      for (const [step, s] of Object.entries(service.steps ?? {}))
        if (s.approverRole !== undefined)
          requireRole(s.approverRole, ['services', name, 'steps', step, 'approverRole']);
      const analysed = service.strategy === 'canary' || service.stabilityWindowMinutes > 0;
      if ('command' in service.traffic && service.analysis.source === 'haproxy' && analysed) {
        ctx.addIssue({
          code: 'custom',
          path: ['services', name, 'analysis', 'source'],
          message:
            'the command traffic driver has no HAProxy stats to analyse: set analysis.source to { prometheus: … }, or stabilityWindowMinutes: 0 with strategy bluegreen',
        });
      }
      const fleet = 'haproxy' in service.traffic ? service.traffic.haproxy : undefined;
      const regions = new Set(fleet?.instances?.map((i) => i.region)).size;
      // The soaks happen inside the switch step: they must end well before its deadline undoes it.
      if (
        fleet?.order === 'region' &&
        (regions - 1) * fleet.regionSoakSeconds + 60 > service.deadlines.switchMinutes * 60
      ) {
        ctx.addIssue({
          code: 'custom',
          path: ['services', name, 'traffic', 'haproxy', 'regionSoakSeconds'],
          message: `${regions} regions soaking ${fleet.regionSoakSeconds} s each (plus a minute to switch) outlast deadlines.switchMinutes (${service.deadlines.switchMinutes}); raise deadlines.switchMinutes or lower regionSoakSeconds`,
        });
      }
      for (const issue of ringProblems(service))
        ctx.addIssue({ code: 'custom', ...issue, path: ['services', name, ...issue.path] });
      if (service.slots.blue.url === service.slots.green.url) {
        ctx.addIssue({
          code: 'custom',
          path: ['services', name, 'slots', 'green', 'url'],
          message: 'expected blue and green to be different slots (same URL)',
        });
      }
    }
    for (const issue of commsIssues(config.comms, config.services))
      ctx.addIssue({ code: 'custom', ...issue });
    // Greenlight's own credentials and every webhook secret stay out of child processes, even
    // when a deploy.env list names them.
    const webhookSecrets = new Set([
      ...Object.values(config.services).flatMap((s) =>
        'webhook' in s.deploy ? [s.deploy.webhook.secretEnv] : [],
      ),
      ...config.comms.webhooks.map((w) => w.secretEnv),
    ]);
    for (const [name, service] of Object.entries(config.services)) {
      service.deploy.env.forEach((variable, i) => {
        const why = webhookSecrets.has(variable)
          ? 'is a deploy webhook secret (secretEnv)'
          : variable === config.flagProviders.unleash?.tokenEnv
            ? 'is the flag provider token (flagProviders.unleash.tokenEnv)'
            : /^(SLACK_|GREENLIGHT_)/.test(variable) || variable === 'REDIS_URL'
              ? "is Greenlight's own setting or credential (SLACK_*, GREENLIGHT_*, REDIS_URL)"
              : undefined;
        if (why === undefined) return;
        ctx.addIssue({
          code: 'custom',
          path: ['services', name, 'deploy', 'env', i],
          message: `${variable} ${why} and never reaches a child process; remove it from deploy.env`,
        });
      });
    }
  });

export type GreenlightConfig = z.output<typeof greenlightConfigSchema>;
export type ServiceConfig = GreenlightConfig['services'][string];
