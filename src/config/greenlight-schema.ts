import semver from 'semver';
import { z } from 'zod';
import { WEEKDAYS } from '../domain/calendar.ts';
import { DEFAULT_RELEASE_TYPES } from '../domain/release-policy.ts';
import { SLOTS } from '../domain/slots.ts';
import { RELEASE_TYPES } from '../domain/version.ts';

/** Slack ids a role may list: users (`U…`, `W…` on Enterprise Grid) and user groups (`S…`). */
const slackPrincipal = z.string().regex(/^[UWS][A-Z0-9]{2,}$/, {
  error: 'expected a Slack user id (U…/W…) or user group id (S…)',
});
const channelId = z
  .string()
  .regex(/^[CGD][A-Z0-9]{2,}$/, { error: 'expected a Slack channel id (C…), not a #name' });
const httpUrl = z.string().refine(
  (value) => {
    try {
      const url = new URL(value);
      return url.protocol === 'http:' || url.protocol === 'https:';
    } catch {
      return false;
    }
  },
  { error: 'expected an http(s) URL' },
);
const version = z
  .string()
  .refine((v) => semver.valid(v) !== null, { error: 'expected a semantic version like 2.4.0' });
const isoInstant = z.iso.datetime({ offset: true, error: 'expected an ISO 8601 date-time' });
const positiveInt = z.number().int().positive();

export { WEEKDAYS } from '../domain/calendar.ts';
export { SLOTS, type Slot } from '../domain/slots.ts';
export { RELEASE_TYPES, type ReleaseType } from '../domain/version.ts';

/** Words the commands use as subcommands (`/release status`), so no service may take them. */
export const RESERVED_SERVICE_NAMES = ['status', 'help', 'history', 'unmark'] as const;

const slotSchema = z.strictObject({
  /** Where the slot answers directly (health and version probes, links in Slack). */
  url: httpUrl,
});

const healthSchema = z.strictObject({
  path: z.string().startsWith('/').default('/healthz'),
  expectStatus: z.number().int().min(100).max(599).default(200),
  timeoutMs: positiveInt.max(60_000).default(2000),
  /** Consecutive passing probes needed before a slot counts as healthy. */
  successes: positiveInt.max(20).default(2),
  intervalMs: positiveInt.max(60_000).default(1000),
  /** How long a deployed slot may take to pass `successes` probes and report its version. */
  readyTimeoutSeconds: positiveInt.max(3600).default(120),
});

/**
 * Names of variables passed from Greenlight's own environment to the service's child processes
 * (deploy command, command gates, command traffic driver), besides PATH, HOME, the locale and
 * the GREENLIGHT_* variables describing the step. Nothing else is inherited.
 */
const childEnvNames = z
  .array(
    z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'expected an environment variable name' }),
  )
  .default([]);

const deploySchema = z.union([
  z.strictObject({
    /** argv, run without a shell; GREENLIGHT_* variables describe the deploy. */
    command: z.array(z.string().min(1)).min(1, { error: 'expected at least the program to run' }),
    timeoutSeconds: positiveInt.max(24 * 3600).default(600),
    env: childEnvNames,
  }),
  z.strictObject({
    webhook: z.strictObject({
      url: httpUrl,
      /** Name of the env var holding the HMAC secret; the secret itself never sits in YAML. */
      secretEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/),
    }),
    timeoutSeconds: positiveInt.max(24 * 3600).default(600),
    env: childEnvNames,
  }),
]);

const runtimeApiAddress = z
  .string()
  .refine((value) => value.startsWith('/') || /^[^\s:]+:\d{1,5}$/.test(value), {
    error: 'expected host:port or an absolute unix socket path',
  });

/**
 * A backend or server name: it is written into Runtime API command lines, where `;` separates
 * commands and spaces separate arguments, so only HAProxy's plain name characters are accepted.
 */
const haproxyName = z.string().regex(/^[A-Za-z0-9_.-]+$/, {
  error:
    'expected an HAProxy name of letters, digits, _ . or - (it is sent to the Runtime API as is)',
});

const trafficSchema = z.union([
  z.strictObject({
    haproxy: z.strictObject({
      runtimeApi: runtimeApiAddress,
      backend: haproxyName,
      servers: z.strictObject({ blue: haproxyName, green: haproxyName }),
      timeoutMs: positiveInt.max(60_000).default(3000),
    }),
  }),
  z.strictObject({
    command: z.strictObject({
      /**
       * argv run to send `{weight}` percent of traffic to `{slot}` (the other slot gets the
       * rest); the placeholders are whole arguments, nothing is passed to a shell.
       */
      switch: z.array(z.string().min(1)).min(1),
      /**
       * argv that prints where traffic goes now, one `slot=weight` per line or word
       * (`blue=100 green=0`); Greenlight checks it before and after every change.
       */
      status: z.array(z.string().min(1)).min(1),
      timeoutSeconds: positiveInt.max(3600).default(60),
    }),
  }),
]);

const releaseTypeSchema = z.strictObject({
  /** Roles that must each approve, each by a different person. */
  approvals: z.array(z.string().min(1)),
  rollbackWindowMinutes: z.number().positive(),
});

const canarySchema = z.strictObject({
  steps: z
    .array(z.number().int().min(1).max(100))
    .min(1)
    .refine((steps) => steps.every((s, i) => i === 0 || s > (steps[i - 1] ?? 0)), {
      error: 'expected increasing percentages',
    })
    .refine((steps) => steps.at(-1) === 100, { error: 'expected the last step to be 100' })
    .default([5, 20, 50, 100]),
  holdMinutes: z.number().positive().default(10),
  autoPromote: z.boolean().default(false),
});

const analysisSchema = z.strictObject({
  source: z
    .union([
      z.literal('haproxy'),
      z.strictObject({
        prometheus: z.strictObject({
          url: httpUrl,
          /** Fraction of failed requests (0–1) over the interval; `{slot}` is replaced. */
          errorRateQuery: z.string().min(1),
          /** P99 latency in seconds; `{slot}` is replaced. */
          p99Query: z.string().min(1),
          /**
           * Optional: the interval's latency histogram by `le` (cumulative counts), to compare
           * canary and baseline distributions; `{slot}` and `{interval}` are replaced.
           */
          latencyBucketsQuery: z.string().min(1).optional(),
          /**
           * Requests over the interval; `{slot}` is replaced. Required: without a count, thin
           * traffic could never be told from a healthy canary.
           */
          requestsQuery: z
            .string({
              error: (issue) =>
                issue.input === undefined
                  ? 'a Prometheus analysis needs requestsQuery (requests per slot since the last reading, e.g. sum(increase(http_requests_total{slot="{slot}"}[{interval}]))): without a count, no data would look like a pass'
                  : 'must be a PromQL query string',
            })
            .min(1)
            .refine((q) => q.includes('{interval}'), {
              error:
                'requestsQuery must count requests since the last reading: use {interval} as its range, e.g. sum(increase(http_requests_total{slot="{slot}"}[{interval}])) (a fixed range such as [1m] counts requests twice when readings overlap)',
            }),
        }),
      }),
    ])
    .default('haproxy'),
  /**
   * Absolute ceiling: strong evidence, on the canary's running counts, that its error rate is
   * above it rolls back on its own.
   */
  maxErrorRatePercent: z.number().min(0).max(100).default(0.5),
  /** Ceiling for a real P99 (Prometheus), and for HAProxy's mean when `maxMeanMs` is unset. */
  maxP99Ms: positiveInt.default(800),
  /** Ceiling for HAProxy's mean response time (`rtime`), the only latency HAProxy's stats have. */
  maxMeanMs: positiveInt.optional(),
  /** Canary requests below which an interval's ceilings are not judged (too thin to mean anything). */
  minRequests: z.number().int().min(0).default(50),
  intervalSeconds: z.number().min(0.2).default(60),
  consecutiveBreaches: positiveInt.default(2),
  /** Tolerance: a canary error rate up to this multiple of the baseline's is not meaningful harm. */
  maxErrorRatio: z.number().min(1).default(2),
  /** Error rates below this are never meaningful harm, whatever the ratio. */
  errorRateFloorPercent: z.number().min(0).max(100).default(0.1),
  /** Chance of rolling back a canary no worse than its baseline, however often it is judged. */
  falseRollbackPercent: z.number().gt(0).max(50).default(0.1),
  /** Chance of passing a canary meaningfully worse than its baseline. */
  falsePassPercent: z.number().gt(0).max(50).default(1),
  /** Consecutive readings with no data (failed or empty) before the release pauses and asks. */
  maxFailedReads: positiveInt.default(3),
  /**
   * A stability window that ends without enough evidence: `release` (recorded as "not enough
   * traffic to judge") or `rollback`.
   */
  whenInconclusive: z.enum(['release', 'rollback']).default('release'),
  /** Shadow mode: judge and report every reading, never act on one. */
  dryRun: z.boolean().default(false),
});

const deadlinesSchema = z.strictObject({
  /**
   * A release nobody approves or rejects is cancelled after this (reminder half-way); by default
   * when its approvals would expire (`approvalTtlMinutes`).
   */
  approvalMinutes: z.number().positive().optional(),
  /** A traffic switch that has not finished by then is undone and the release fails. */
  switchMinutes: z.number().positive().default(5),
  /** A paused canary or stability window, or a Promote nobody clicks, is rolled back after this. */
  pausedMinutes: z.number().positive().default(60),
});

const gateSchema = z.discriminatedUnion('type', [
  z.strictObject({
    name: z.string().min(1),
    type: z.literal('http'),
    url: httpUrl,
    expectStatus: z.number().int().default(200),
    blocking: z.boolean().default(true),
  }),
  z.strictObject({
    name: z.string().min(1),
    type: z.literal('command'),
    command: z.array(z.string().min(1)).min(1),
    timeoutSeconds: positiveInt.default(120),
    blocking: z.boolean().default(true),
  }),
  z.strictObject({
    name: z.string().min(1),
    type: z.literal('env'),
    variables: z.array(z.string().min(1)).min(1),
    blocking: z.boolean().default(true),
  }),
]);

const COMMANDS = ['bump', 'release', 'sync', 'rollback'] as const;
export type CommandName = (typeof COMMANDS)[number];

const operatorsSchema = z.union([
  z.array(slackPrincipal),
  z.strictObject(
    Object.fromEntries(COMMANDS.map((c) => [c, z.array(slackPrincipal).optional()])) as Record<
      CommandName,
      z.ZodOptional<z.ZodArray<typeof slackPrincipal>>
    >,
  ),
]);

const serviceSchema = z.strictObject({
  channel: channelId,
  strategy: z.enum(['bluegreen', 'canary']).default('bluegreen'),
  /** Used only while Redis knows nothing about the service yet. */
  bootstrap: z.strictObject({ production: z.enum(SLOTS), version }),
  slots: z.strictObject({ blue: slotSchema, green: slotSchema }),
  health: healthSchema.default(healthSchema.parse({})),
  versionPath: z.string().startsWith('/').default('/version'),
  deploy: deploySchema,
  traffic: trafficSchema,
  releaseTypes: z.partialRecord(z.enum(RELEASE_TYPES), releaseTypeSchema).optional(),
  canary: canarySchema.default(canarySchema.parse({})),
  analysis: analysisSchema.default(analysisSchema.parse({})),
  gates: z.array(gateSchema).default([]),
  /**
   * A `--dry-run` of /release reuses gate results younger than this instead of running the gates
   * again (0: run them every time). A real /release always runs them.
   */
  dryRunGateCacheSeconds: z.number().min(0).max(3600).default(60),
  operators: operatorsSchema.optional(),
  /** An approval older than this no longer counts; it must be given again. */
  approvalTtlMinutes: z.number().positive().default(60),
  /** How long each waiting state may last before Greenlight acts on it. */
  deadlines: deadlinesSchema.default(deadlinesSchema.parse({})),
  progressIntervalMinutes: z.number().positive().default(15),
  stabilityWindowMinutes: z.number().min(0).default(30),
  runbookUrl: httpUrl.optional(),
  dashboardUrl: httpUrl.optional(),
});

const freezeSchema = z
  .strictObject({ from: isoInstant, to: isoInstant, reason: z.string().min(1) })
  .refine((f) => Date.parse(f.from) < Date.parse(f.to), {
    error: 'expected "from" to be before "to"',
    path: ['to'],
  });

const timezone = z.string().refine(
  (tz) => {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: tz });
      return true;
    } catch {
      return false;
    }
  },
  { error: 'expected an IANA time zone such as Europe/Berlin' },
);

const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, { error: 'expected a time like 09:00' });

/** How long Redis keeps a kind of record, in whole days (at most 100 years). */
const retentionSchema = z.strictObject({
  retentionDays: positiveInt.max(36_500).default(400),
});

const serviceName = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,39}$/, { error: 'expected lowercase letters, digits and -' })
  .refine((name) => !(RESERVED_SERVICE_NAMES as readonly string[]).includes(name), {
    error: `is reserved by the commands (${RESERVED_SERVICE_NAMES.join(', ')})`,
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
      const analysed = service.strategy === 'canary' || service.stabilityWindowMinutes > 0;
      if ('command' in service.traffic && service.analysis.source === 'haproxy' && analysed) {
        ctx.addIssue({
          code: 'custom',
          path: ['services', name, 'analysis', 'source'],
          message:
            'the command traffic driver has no HAProxy stats to analyse: set analysis.source to { prometheus: … }, or stabilityWindowMinutes: 0 with strategy bluegreen',
        });
      }
      if (service.slots.blue.url === service.slots.green.url) {
        ctx.addIssue({
          code: 'custom',
          path: ['services', name, 'slots', 'green', 'url'],
          message: 'expected blue and green to be different slots (same URL)',
        });
      }
    }
    // Greenlight's own credentials and every webhook secret stay out of child processes, even
    // when a deploy.env list names them.
    const webhookSecrets = new Set(
      Object.values(config.services).flatMap((s) =>
        'webhook' in s.deploy ? [s.deploy.webhook.secretEnv] : [],
      ),
    );
    for (const [name, service] of Object.entries(config.services)) {
      service.deploy.env.forEach((variable, i) => {
        const why = webhookSecrets.has(variable)
          ? 'is a deploy webhook secret (secretEnv)'
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
