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
): ConfigProblem[] {
  return issues.map((issue) => {
    const path = issue.path.map(String).join('.') || '(root)';
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
