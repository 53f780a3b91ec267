import { isIP } from 'node:net';
import { z } from 'zod';

// Rings: the audiences a release reaches one after another (seed 004), before everyone.

/**
 * A value HAProxy matches on (a header or cookie value, a CIDR): written into Runtime API map
 * commands, where spaces and `;` separate, so only plain characters are accepted.
 */
const audienceKey = z.string().regex(/^[A-Za-z0-9_.:/-]+$/, {
  error: 'expected letters, digits, _ . : / or - (it is sent to the HAProxy Runtime API as is)',
});
const headerName = z.string().regex(/^[A-Za-z0-9-]+$/, { error: 'expected an HTTP header name' });
/** An IPv4 or IPv6 address, or a network with its prefix length, as HAProxy's `map_ip` reads. */
const cidr = z.string().refine(
  (value) => {
    const [address = '', bits, ...rest] = value.split('/');
    // A zone (`fe80::1%eth0`) names an interface of this host, meaningless to HAProxy.
    const family = address.includes('%') ? 0 : isIP(address);
    if (family === 0 || rest.length > 0) return false;
    return (
      bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128))
    );
  },
  { error: 'expected an IP address or CIDR such as 10.0.0.0/8 or 2001:db8::/32' },
);

/** Who is in an audience ring: requests with a header or cookie value, or from a network. */
export const ringMatchSchema = z.union([
  z.strictObject({ header: headerName, values: z.array(audienceKey).min(1) }),
  z.strictObject({
    cookie: z.string().regex(/^[A-Za-z0-9_-]+$/),
    values: z.array(audienceKey).min(1),
  }),
  z.strictObject({ source: z.array(cidr).min(1) }),
]);

export const ringSchema = z
  .strictObject({
    /** An audience: these requests reach the new version; everyone else stays on production. */
    match: ringMatchSchema.optional(),
    /** A share of all other requests, as HAProxy weights (100: everyone). */
    percent: z.number().int().min(1).max(100).optional(),
    /** How long the ring soaks (and is analysed) before the next may start. */
    soakMinutes: z.number().min(0).default(60),
    /** This ring's own ceilings, over the service's `analysis` (a staff ring may be stricter). */
    analysis: z
      .strictObject({
        maxErrorRatePercent: z.number().positive().max(100).optional(),
        maxP99Ms: z.number().positive().optional(),
        maxMeanMs: z.number().positive().optional(),
        minRequests: z.number().int().min(0).optional(),
        consecutiveBreaches: z.number().int().positive().optional(),
      })
      .optional(),
  })
  .refine((ring) => (ring.match === undefined) !== (ring.percent === undefined), {
    error: 'expected either match (an audience) or percent (a share of everyone), not both',
  });

/** Ring name → ring, in the order the release walks them; the last must reach everyone. */
export const ringsSchema = z
  .record(
    z.string().regex(/^[a-z][a-z0-9-]*$/, { error: 'expected a ring name like early' }),
    ringSchema,
  )
  .refine((rings) => Object.keys(rings).length > 0, { error: 'expected at least one ring' })
  .refine((rings) => Object.values(rings).at(-1)?.percent === 100, {
    error: 'expected the last ring to reach everyone (percent: 100)',
  })
  .refine(
    (rings) => {
      const shares = Object.values(rings).flatMap((r) => (r.percent ? [r.percent] : []));
      return shares.every((p, i) => i === 0 || p > (shares[i - 1] ?? 0));
    },
    { error: 'expected percentages that grow from ring to ring' },
  );

export type RingsConfig = z.infer<typeof ringsSchema>;
