import { z } from 'zod';
import { ConfigError, problemsFromZod } from './config-error.ts';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export const ROLES = ['all', 'web', 'worker'] as const;
export type ProcessRole = (typeof ROLES)[number];

/** Variables whose values must never be echoed back, even in a validation error. */
const SECRET_VARS = new Set([
  'SLACK_BOT_TOKEN',
  'SLACK_SIGNING_SECRET',
  'SLACK_APP_TOKEN',
  'REDIS_URL',
  'GREENLIGHT_AUDIT_TOKEN',
]);

const blankToUndefined = (value: unknown) =>
  typeof value === 'string' && value.trim() === '' ? undefined : value;

const optionalString = (schema: z.ZodString) => z.preprocess(blankToUndefined, schema.optional());

/** A yes/no switch: true or 1, false or 0 (any case); blank or unset is false. */
const flag = () =>
  z.preprocess(
    (value) => {
      const blank = blankToUndefined(value);
      return typeof blank === 'string' ? blank.trim().toLowerCase() : blank;
    },
    z
      .enum(['true', '1', 'false', '0'], { error: 'expected true or false (or 1 or 0)' })
      .default('false')
      .transform((value) => value === 'true' || value === '1'),
  );

const envSchema = z
  .object({
    SLACK_BOT_TOKEN: z
      .string({ error: 'required: the bot token (xoxb-...) from your Slack app' })
      .startsWith('xoxb-', { error: 'expected a bot token starting with xoxb-' }),
    SLACK_SIGNING_SECRET: optionalString(
      z.string().min(8, { error: 'expected the signing secret' }),
    ),
    SLACK_APP_TOKEN: optionalString(
      z.string().startsWith('xapp-', { error: 'expected an app-level token starting with xapp-' }),
    ),
    SLACK_API_URL: z.preprocess(
      blankToUndefined,
      z
        .url({ protocol: /^https?$/, error: 'expected an http(s) URL' })
        .default('https://slack.com/api/')
        .transform((url) => (url.endsWith('/') ? url : `${url}/`)),
    ),
    REDIS_URL: z.preprocess(
      blankToUndefined,
      z
        .url({ protocol: /^rediss?$/, error: 'expected a redis:// or rediss:// URL' })
        .default('redis://127.0.0.1:6379'),
    ),
    PORT: z.preprocess(
      blankToUndefined,
      z.coerce
        .number({ error: 'expected a port number' })
        .int()
        .min(0)
        .max(65535, { error: 'expected a port number from 0 to 65535' })
        .default(3000),
    ),
    /**
     * Port of the ops listener (`/healthz`, `/readyz`, `/metrics`, `/audit`). Unset: they are
     * served on PORT next to Slack's requests, as before; set: only here, and PORT answers 404.
     */
    OPS_PORT: z.preprocess(
      blankToUndefined,
      z.coerce
        .number({ error: 'expected a port number' })
        .int()
        .min(1, { error: 'expected a port number from 1 to 65535' })
        .max(65535, { error: 'expected a port number from 1 to 65535' })
        .optional(),
    ),
    GREENLIGHT_CONFIG: z.preprocess(blankToUndefined, z.string().default('./greenlight.yml')),
    GREENLIGHT_ROLE: z.preprocess(
      blankToUndefined,
      z.enum(ROLES, { error: 'expected one of all, web, worker' }).default('all'),
    ),
    LOG_LEVEL: z.preprocess(
      blankToUndefined,
      z.enum(LOG_LEVELS, { error: `expected one of ${LOG_LEVELS.join(', ')}` }).default('info'),
    ),
    /**
     * Namespace of every Redis key and queue. Wrapped in braces (a Cluster hash tag) so a
     * release's state and its queues live in one slot and Lua scripts can touch them together.
     */
    GREENLIGHT_KEY_PREFIX: z.preprocess(
      blankToUndefined,
      z
        .string()
        .regex(/^[A-Za-z0-9_.-]{1,64}$/, { error: 'expected letters, digits, _ . or -' })
        .default('greenlight'),
    ),
    /** Bearer token for GET /audit; unset turns the export off. */
    GREENLIGHT_AUDIT_TOKEN: optionalString(
      z.string().min(16, { error: 'expected at least 16 characters (a random token)' }),
    ),
    /**
     * How often BullMQ checks for steps whose worker died, and how long a step's lock lasts
     * without renewal: a crashed worker's step resumes elsewhere within about this time.
     */
    GREENLIGHT_STALLED_INTERVAL_MS: z.preprocess(
      blankToUndefined,
      z.coerce.number().int().min(500).max(600_000).default(30_000),
    ),
    /** Seconds between checks that HAProxy still matches Redis (a reload loses runtime changes). */
    GREENLIGHT_RECONCILE_INTERVAL_SECONDS: z.preprocess(
      blankToUndefined,
      z.coerce.number().int().min(1).max(3600).default(60),
    ),
    /** Upper bound for a graceful stop; past it the process exits anyway. */
    GREENLIGHT_SHUTDOWN_TIMEOUT_MS: z.preprocess(
      blankToUndefined,
      z.coerce.number().int().min(100).max(120_000).default(8000),
    ),
    /**
     * Start even when Redis's maxmemory-policy is not noeviction (with a warning). Without it,
     * start-up refuses an evicting Redis: it may silently drop queued steps and release state.
     */
    GREENLIGHT_ALLOW_EVICTION: flag(),
    /** Directory Greenlight owns for its caches (git clones for release notes); default: tmp. */
    GREENLIGHT_CACHE_DIR: optionalString(z.string()),
  })
  .superRefine(
    (env, ctx) => {
      if (env.OPS_PORT !== undefined && env.OPS_PORT === env.PORT) {
        ctx.addIssue({
          code: 'custom',
          path: ['OPS_PORT'],
          message: 'must differ from PORT (unset it to serve the ops endpoints on PORT)',
        });
      }
      if (!env.SLACK_APP_TOKEN && !env.SLACK_SIGNING_SECRET) {
        ctx.addIssue({
          code: 'custom',
          path: ['SLACK_SIGNING_SECRET'],
          message: 'required in HTTP mode (set SLACK_APP_TOKEN instead to use Socket Mode)',
        });
      }
    },
    // Reported alongside other problems, so one edit of the environment fixes them all.
    { when: () => true },
  );

export type Env = z.output<typeof envSchema>;

/** Validates the process environment once, before any connection opens. */
export function readEnv(env: NodeJS.ProcessEnv = process.env): Env {
  const result = envSchema.safeParse(env);
  if (!result.success) {
    throw new ConfigError(
      'environment',
      problemsFromZod(result.error.issues, env, (path) => SECRET_VARS.has(path)),
    );
  }
  return result.data;
}

/** Socket Mode when an app-level token is present, as Bolt apps conventionally do. */
export function usesSocketMode(env: Env): boolean {
  return env.SLACK_APP_TOKEN !== undefined;
}

/** Every variable Greenlight reads; `.env.example` documents each one. */
export const ENV_VARS: readonly string[] = Object.keys(envSchema.shape);
