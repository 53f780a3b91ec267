import type { z } from 'zod';

/** One problem found in the environment or in greenlight.yml, with where it is. */
export interface ConfigProblem {
  /** Dotted path of the offending key (`services.api.slots.green.url`), or the file for parse errors. */
  readonly path: string;
  readonly message: string;
}

/** Start-up refuses to continue; every problem is listed so one edit can fix them all. */
export class ConfigError extends Error {
  readonly code = 'invalid_config';
  readonly source: string;
  readonly problems: readonly ConfigProblem[];

  constructor(source: string, problems: readonly ConfigProblem[]) {
    super(`${source} is invalid:\n${problems.map((p) => `  ${p.path}: ${p.message}`).join('\n')}`);
    this.name = 'ConfigError';
    this.source = source;
    this.problems = problems;
  }
}

function valueAt(
  input: unknown,
  path: readonly PropertyKey[],
): { found: boolean; value?: unknown } {
  let current: unknown = input;
  for (const key of path) {
    if (current === null || typeof current !== 'object' || !(key in current)) {
      return { found: false };
    }
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return { found: true, value: current };
}

function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/**
 * Turns zod issues into problems a person can act on. The offending value is quoted
 * (`got "localhost:3002"`) unless the message already does, so users see what they typed.
 */
export function problemsFromZod(
  issues: readonly z.core.$ZodIssue[],
  input: unknown,
  redact: (path: string) => boolean = () => false,
  knownKeys: readonly string[] = [],
): ConfigProblem[] {
  return issues.flatMap((issue) => {
    const path = issue.path.map(String).join('.') || '(root)';
    // A key nobody knows: name it and the closest known one, never dump the whole object.
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => {
        const near = closest(key, knownKeys);
        return {
          path: [...issue.path.map(String), key].join('.'),
          message: `unknown key "${key}"${near ? `; did you mean "${near}"?` : ''}`,
        };
      });
    }
    // A bad record key (a service name): say what is wrong with the name, not with its body.
    if (issue.code === 'invalid_key') {
      const reasons = issue.issues.map((inner) => inner.message).join('; ');
      return { path, message: `${reasons}, got ${show(issue.path.at(-1))}` };
    }
    const at = valueAt(input, issue.path);
    const quoted = at.found && issue.message.includes(show(at.value));
    const mentionsValue = quoted || /\b(got|received)\b/.test(issue.message);
    const suffix =
      at.found && at.value !== undefined && !mentionsValue && !redact(path)
        ? `, got ${show(at.value)}`
        : '';
    return { path, message: `${issue.message}${suffix}` };
  });
}

/** Edit distance, for "did you mean" (keys are short). */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i += 1) {
    let diagonal = row[0] ?? 0;
    row[0] = i;
    for (let j = 1; j <= b.length; j += 1) {
      const above = row[j] ?? 0;
      const cost = a[i - 1]?.toLowerCase() === b[j - 1]?.toLowerCase() ? 0 : 1;
      row[j] = Math.min(above + 1, (row[j - 1] ?? 0) + 1, diagonal + cost);
      diagonal = above;
    }
  }
  return row[b.length] ?? 0;
}

/** The known key closest to `key`, if close enough to be what was meant. */
export function closest(key: string, known: readonly string[]): string | undefined {
  let best: { name: string; d: number } | undefined;
  for (const name of known) {
    const d = distance(key, name);
    if (d < (best?.d ?? Number.POSITIVE_INFINITY)) best = { name, d };
  }
  return best !== undefined && best.d <= Math.max(2, Math.floor(key.length / 3))
    ? best.name
    : undefined;
}

/** Every key name a zod schema knows, at any depth (for suggestions). */
export function keysOf(schema: unknown, seen = new Set<unknown>()): string[] {
  if (schema === null || typeof schema !== 'object' || seen.has(schema)) return [];
  seen.add(schema);
  const def = (schema as { _zod?: { def?: Record<string, unknown> } })._zod?.def;
  if (def === undefined) return [];
  const keys: string[] = [];
  const shape = def.shape as Record<string, unknown> | undefined;
  if (shape) {
    for (const [name, inner] of Object.entries(shape)) keys.push(name, ...keysOf(inner, seen));
  }
  for (const field of ['innerType', 'in', 'out', 'element', 'valueType', 'schema']) {
    keys.push(...keysOf(def[field], seen));
  }
  for (const option of (def.options as unknown[] | undefined) ?? [])
    keys.push(...keysOf(option, seen));
  return [...new Set(keys)];
}
