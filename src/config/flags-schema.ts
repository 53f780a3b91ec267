import { z } from 'zod';
import { httpUrl, positiveInt } from './schema-values.ts';

/** Where Greenlight reaches each flag provider. Tokens live in the environment, named here. */
export const flagProvidersSchema = z.strictObject({
  unleash: z
    .strictObject({
      /** Unleash's base URL (the Admin API is under `/api/admin`). */
      url: httpUrl,
      /** Variable holding an Admin API token (a service account or personal access token). */
      tokenEnv: z
        .string()
        .regex(/^[A-Z_][A-Z0-9_]*$/)
        .default('UNLEASH_ADMIN_TOKEN'),
      project: z
        .string()
        .regex(/^[A-Za-z0-9_.-]+$/)
        .default('default'),
      /** Bound on each Admin API call: a rollback never waits longer than this per flag. */
      timeoutMs: positiveInt.max(30_000).default(2000),
    })
    .optional(),
});

const percent = z.number().int().min(1).max(100);

/** A provider flag tied to a service's releases. */
export const flagSchema = z.strictObject({
  /** The flag's name at the provider, and in `/flag <service> <flag>`. */
  name: z.string().regex(/^[A-Za-z0-9_.-]{1,100}$/, {
    error: 'expected letters, digits, _ . -',
  }),
  environment: z.string().regex(/^[A-Za-z0-9_.-]{1,100}$/),
  provider: z.enum(['unleash']).default('unleash'),
  /** A percentage ramp, like the canary's steps. */
  rollout: z
    .array(percent)
    .min(1)
    .refine((s) => s.every((p, i) => i === 0 || p > (s[i - 1] ?? 0)), {
      error: 'expected rising percentages',
    })
    .default([100]),
  /** A kill switch: any `operators.flag` member may turn it off, without its `role`. */
  killSwitch: z.boolean().default(false),
  /** Role whose members alone may change this flag with /flag (within `operators.flag`). */
  role: z.string().optional(),
});

export type FlagConfig = z.output<typeof flagSchema>;
export type FlagProvidersConfig = z.output<typeof flagProvidersSchema>;

/** Checks that each service flag has its provider configured and a known role. */
export function checkFlags(
  config: {
    flagProviders: FlagProvidersConfig;
    services: Record<string, { flags: readonly FlagConfig[] }>;
  },
  requireRole: (role: string, path: (string | number)[]) => void,
  addIssue: (path: (string | number)[], message: string) => void,
): void {
  for (const [name, service] of Object.entries(config.services)) {
    const seen = new Set<string>();
    service.flags.forEach((flag, i) => {
      const path = ['services', name, 'flags', i];
      if (seen.has(flag.name)) addIssue([...path, 'name'], `flag ${flag.name} is listed twice`);
      seen.add(flag.name);
      if (config.flagProviders[flag.provider] === undefined)
        addIssue([...path, 'provider'], `set flagProviders.${flag.provider} (url, tokenEnv)`);
      if (flag.role !== undefined) requireRole(flag.role, [...path, 'role']);
    });
  }
}
