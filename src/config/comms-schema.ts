import { z } from 'zod';
import { channelId, httpUrl, positiveInt } from './schema-values.ts';

// Top-level `comms`: who hears about a release besides its own channel, Alertmanager silences
// held while a release moves traffic, and signed webhooks for status pages and other tools.

/** One Alertmanager matcher, as its v2 API takes it. */
const matcherSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'expected a label name' }),
  value: z.string().min(1).max(500),
  isRegex: z.boolean().default(false),
  /** false: the label must differ from `value` (`!=`, `!~`). */
  isEqual: z.boolean().default(true),
});
export type SilenceMatcher = z.output<typeof matcherSchema>;

/** `failed`: a switch that failed ends what `started` began (traffic stays where it was). */
export const COMMS_EVENTS = ['started', 'released', 'rolled_back', 'failed'] as const;
export type CommsEvent = (typeof COMMS_EVENTS)[number];

const alertmanagerSchema = z.strictObject({
  url: httpUrl,
  matchers: z
    .array(matcherSchema)
    .min(1)
    .refine((list) => list.some((m) => m.isEqual && !m.isRegex), {
      error:
        'expected at least one plain equality matcher (name = value): a silence of only regexes or negations can cover every alert, the analysis ones included',
    }),
  /** How far ahead each extension pushes the silence's end; keep it above the reconcile interval. */
  leaseSeconds: positiveInt.default(900),
  /** How long the silence lasts after the release ends (alerts settling down). */
  tailSeconds: z.number().int().min(0).default(300),
  /**
   * Bound on each call: a slow Alertmanager never holds a step up. At most 8 s, so the three
   * calls of one extension fit inside the 30 s lock that keeps a release to one silence.
   */
  timeoutMs: positiveInt.max(8000).default(3000),
});

const webhookSchema = z.strictObject({
  url: httpUrl,
  /** Name of the environment variable holding the signing secret (never the secret itself). */
  secretEnv: z
    .string()
    .regex(/^[A-Z_][A-Z0-9_]*$/, { error: 'expected an environment variable name' }),
  events: z
    .array(z.enum(COMMS_EVENTS))
    .min(1)
    .default([...COMMS_EVENTS]),
  /**
   * How long one delivery may take before it counts as failed and is retried. Deliveries share
   * the step workers with releases and the control loop: at most 30 s, so a receiver that hangs
   * cannot hold them long.
   */
  timeoutMs: z.number().int().min(1000).max(30_000).default(10_000),
});

export const commsSchema = z.strictObject({
  /** Services whose releases comms covers; unset, every service. */
  services: z.array(z.string()).min(1).optional(),
  /** Stakeholder channels: start notice, completion or rollback notice, incident reminder. */
  channels: z.array(channelId).default([]),
  /** After a rollback: the reminder to file an incident report and hold a retro. */
  incidentReport: z
    .strictObject({
      remindAfterHours: z.number().positive().default(24),
      dueHours: z.number().positive().default(48),
    })
    .refine((r) => r.remindAfterHours < r.dueHours, {
      error: 'expected remindAfterHours before dueHours',
      path: ['remindAfterHours'],
    })
    .default({ remindAfterHours: 24, dueHours: 48 }),
  alertmanager: alertmanagerSchema.optional(),
  webhooks: z.array(webhookSchema).default([]),
});
export type CommsConfig = z.output<typeof commsSchema>;

/** The PromQL words that are not metric names (functions, keywords, aggregations). */
const PROMQL_WORDS = new Set(
  'sum min max avg group stddev stdvar count count_values bottomk topk quantile by without on ignoring group_left group_right bool and or unless offset rate irate increase delta idelta deriv histogram_quantile vector scalar abs absent clamp_max clamp_min ceil floor round sort sort_desc time label_replace label_join changes resets predict_linear exp ln log2 log10 sqrt avg_over_time sum_over_time max_over_time min_over_time count_over_time last_over_time interval slot le inf nan'.split(
    ' ',
  ),
);

/** A label matcher inside a selector, with any of PromQL's three quotes. */
const LABEL_MATCHER =
  /([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)/g;

/**
 * What an analysis query judges, as an alert would name it: metric names (with a selector or
 * bare, as a recording rule is read) and the values of its label selectors (`job="api"`), and,
 * apart, the regexes its selectors match labels with (`job=~"api-.*"`). `{slot}` and
 * `{interval}` are placeholders, not names.
 */
export function judgedNames(queries: readonly string[]): {
  names: Set<string>;
  patterns: Set<string>;
} {
  const names = new Set<string>();
  const patterns = new Set<string>();
  for (const query of queries) {
    const q = query.replaceAll('{slot}', '').replaceAll('{interval}', '');
    for (const m of q.matchAll(LABEL_MATCHER)) {
      const value = (m[3] ?? '').slice(1, -1);
      if (value === '' || /[{}]/.test(value)) continue;
      if (m[2] === '=') names.add(value);
      if (m[2] === '=~') {
        names.add(value);
        patterns.add(value);
      }
    }
    // What is left once strings, selectors, ranges and label lists are gone: metric names,
    // functions (followed by `(`), keywords and numbers.
    const bare = q
      .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '')
      .replace(/\{[^}]*\}|\[[^\]]*\]/g, '')
      .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '');
    for (const m of bare.matchAll(/(?<![A-Za-z0-9_:.])([A-Za-z_:][A-Za-z0-9_:]*)(?!\s*\()/g))
      if (m[1] && !PROMQL_WORDS.has(m[1])) names.add(m[1]);
  }
  return { names, patterns };
}

function covers(matcher: SilenceMatcher, name: string): boolean {
  if (!matcher.isEqual) return false;
  if (!matcher.isRegex) return matcher.value === name;
  try {
    return new RegExp(`^(?:${matcher.value})$`).test(name);
  } catch {
    return true;
  }
}

/** A plain matcher whose value a query's label regex selects (`job="api-eu"`, `job=~"api-.*"`). */
function selectedBy(matcher: SilenceMatcher, pattern: string): boolean {
  if (!matcher.isEqual || matcher.isRegex) return false;
  try {
    return new RegExp(`^(?:${pattern})$`).test(matcher.value);
  } catch {
    return false;
  }
}

/**
 * The rule that keeps a silence off what the analysis judges: no matcher may select (by equality
 * or by regex) a metric name, or a label value, that a service's analysis query names. A silence
 * on `alertname=HighErrorRate` is fine; one on `job="api"` where the requests query reads
 * `http_requests_total{job="api"}`, or on `__name__`, is refused.
 */
export function silenceMatcherIssues(
  matchers: readonly SilenceMatcher[],
  queriesByService: Readonly<Record<string, readonly string[]>>,
): { index: number; message: string }[] {
  const issues: { index: number; message: string }[] = [];
  matchers.forEach((matcher, index) => {
    if (matcher.isRegex) {
      try {
        new RegExp(matcher.value);
      } catch {
        issues.push({ index, message: `invalid regular expression "${matcher.value}"` });
        return;
      }
      // Alertmanager compiles it with Go's RE2: refused there, the silence fails every release.
      if (/\(\?<?[=!]|\\[1-9]|\\k</.test(matcher.value)) {
        issues.push({
          index,
          message: `"${matcher.value}" uses a lookaround or a backreference, which Alertmanager (Go RE2 syntax) refuses`,
        });
        return;
      }
    }
    if (matcher.name === '__name__') {
      issues.push({ index, message: 'a silence may not match on __name__ (metric names)' });
      return;
    }
    for (const [service, queries] of Object.entries(queriesByService)) {
      const judged = judgedNames(queries);
      const hit =
        [...judged.names].find((name) => covers(matcher, name)) ??
        [...judged.patterns].find((pattern) => selectedBy(matcher, pattern));
      if (hit !== undefined) {
        issues.push({
          index,
          message: `${matcher.name}${matcher.isRegex ? '=~' : '='}"${matcher.value}" would cover "${hit}", which services.${service}.analysis judges; silence the alerts by alertname or team instead`,
        });
        return;
      }
    }
  });
  return issues;
}

/** What a service's analysis reads, as far as the silence rule needs it. */
type AnalysedServices = Readonly<
  Record<string, { analysis: { source: 'haproxy' | { prometheus: Record<string, unknown> } } }>
>;

/** `comms` checked against the services: names it lists, and the silence matcher rule. */
export function commsIssues(
  comms: CommsConfig,
  services: AnalysedServices,
): { path: (string | number)[]; message: string }[] {
  const issues: { path: (string | number)[]; message: string }[] = [];
  comms.services?.forEach((name, i) => {
    if (services[name] === undefined)
      issues.push({
        path: ['comms', 'services', i],
        message: `unknown service "${name}" (known: ${Object.keys(services).join(', ')})`,
      });
  });
  const queries = Object.fromEntries(
    Object.entries(services).map(([name, s]) => [
      name,
      s.analysis.source === 'haproxy'
        ? []
        : Object.entries(s.analysis.source.prometheus).flatMap(([key, query]) =>
            key.endsWith('Query') && typeof query === 'string' ? [query] : [],
          ),
    ]),
  );
  for (const issue of silenceMatcherIssues(comms.alertmanager?.matchers ?? [], queries))
    issues.push({
      path: ['comms', 'alertmanager', 'matchers', issue.index],
      message: issue.message,
    });
  return issues;
}

/**
 * The silence lease against the control loop that extends it: a lease under two loop intervals
 * lapses between extensions, and alerts fire mid-release. Checked where both are known.
 */
export function leaseIssues(
  comms: CommsConfig,
  reconcileSeconds: number,
): { path: string; message: string }[] {
  const lease = comms.alertmanager?.leaseSeconds;
  if (lease === undefined || lease >= 2 * reconcileSeconds) return [];
  return [
    {
      path: 'comms.alertmanager.leaseSeconds',
      message: `${lease} s is under two control loop intervals (GREENLIGHT_RECONCILE_INTERVAL_SECONDS is ${reconcileSeconds}): the silence would lapse between extensions; set at least ${2 * reconcileSeconds}`,
    },
  ];
}
