import { z } from 'zod';
import { SLOTS } from '../domain/slots.ts';
import { RELEASE_TYPES } from '../domain/version.ts';
import { analysisSchema, canarySchema } from './analysis-schema.ts';
import { changesSchema } from './changes-schema.ts';
import { checklistsSchema } from './checklists-schema.ts';
import { deadlinesSchema } from './deadlines-schema.ts';
import { deploySchema, trafficSchema } from './delivery-schema.ts';
import { flagSchema } from './flags-schema.ts';
import { ringsSchema } from './rings-schema.ts';
import { channelId, httpUrl, positiveInt, slackPrincipal, version } from './schema-values.ts';
import { stepsSchema } from './steps-schema.ts';

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

const releaseTypeSchema = z.strictObject({
  /** Roles that must each approve, each by a different person. */
  approvals: z.array(z.string().min(1)),
  rollbackWindowMinutes: z.number().positive(),
  /** This type's checklists, list by list in place of the service's. */
  checklists: checklistsSchema.optional(),
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

const COMMANDS = ['bump', 'release', 'sync', 'rollback', 'flag'] as const;
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

export const serviceSchema = z.strictObject({
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
  /** Audiences, then shares of everyone, released one after another (strategy canary). */
  rings: ringsSchema.optional(),
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
  /** Release notes in the approval card, from the commits between two versions' tags. */
  changes: changesSchema.optional(),
  /** Steps before the switch (migrations), run in declared order; see steps-schema.ts. */
  steps: stepsSchema.optional(),
  /** Pre-release items on the approval card, post-release items in the thread (see checklist.ts). */
  checklists: checklistsSchema.optional(),
  /** Provider flags tied to this service's releases (`/flag`, turned off first on rollback). */
  flags: z.array(flagSchema).default([]),
});

export const serviceName = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,39}$/, { error: 'expected lowercase letters, digits and -' })
  .refine((name) => !(RESERVED_SERVICE_NAMES as readonly string[]).includes(name), {
    error: `is reserved by the commands (${RESERVED_SERVICE_NAMES.join(', ')})`,
  });
