import { z } from 'zod';
import { httpUrl, positiveInt } from './schema-values.ts';

// How a service's new version reaches a slot (deploy) and how traffic moves between slots.

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

export const deploySchema = z.union([
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

/** One load balancer of a fleet: the same backend and servers on every instance. */
const haproxyInstance = z.strictObject({
  /** Named in messages, status and the audit trail. */
  name: haproxyName,
  runtimeApi: runtimeApiAddress,
  /** Instances of one region switch together when `order` is `region`. */
  region: haproxyName.default('default'),
});

const haproxySchema = z
  .strictObject({
    /** One HAProxy; or `instances` for several, never both. */
    runtimeApi: runtimeApiAddress.optional(),
    instances: z.array(haproxyInstance).min(1).optional(),
    /** Fleets: `all` switches every instance at once; `region` one region after another. */
    order: z.enum(['all', 'region']).default('all'),
    /** Fleets with `order: region`: seconds each switched region soaks before the next. */
    regionSoakSeconds: z.number().int().min(0).max(3600).default(30),
    backend: haproxyName,
    servers: z.strictObject({ blue: haproxyName, green: haproxyName }),
    timeoutMs: positiveInt.max(60_000).default(3000),
    /**
     * Rings: the map files HAProxy's `use-server` rules read (header or cookie value → slot,
     * client network → slot). Greenlight owns their entries and sets them at runtime.
     */
    audienceMaps: z
      .strictObject({
        header: z.string().startsWith('/').optional(),
        cookie: z.string().startsWith('/').optional(),
        source: z.string().startsWith('/').optional(),
      })
      .optional(),
  })
  .superRefine((value, ctx) => {
    if ((value.runtimeApi === undefined) === (value.instances === undefined))
      ctx.addIssue({
        code: 'custom',
        message: 'expected either runtimeApi (one HAProxy) or instances (several), not both',
      });
    const names = (value.instances ?? []).map((i) => i.name);
    const twice = names.find((name, i) => names.indexOf(name) !== i);
    if (twice !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['instances'],
        message: `expected unique instance names, got "${twice}" twice`,
      });
  });

export const trafficSchema = z.union([
  z.strictObject({ haproxy: haproxySchema }),
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
