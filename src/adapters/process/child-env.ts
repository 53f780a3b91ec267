/**
 * What a child process (deploy command, command gate, command traffic driver) may see of
 * Greenlight's environment: an allow-list, never a deny-list, so a secret added to Greenlight's
 * environment later cannot leak by default.
 */
import type { ServiceConfig } from '../../config/greenlight-schema.ts';

/** Inherited when set: finding programs, a home directory, and the locale and time zone. */
const BASE_NAMES = ['PATH', 'HOME', 'LANG', 'LANGUAGE', 'TZ'] as const;
const LOCALE_PATTERN = /^LC_[A-Z_]+$/;

/** Greenlight's own settings and credentials: never inherited, whatever a list names. */
export function isGreenlightOwn(name: string): boolean {
  return /^(SLACK_|GREENLIGHT_)/.test(name) || name === 'REDIS_URL';
}

/**
 * The environment of one child process: PATH, HOME, LANG, LANGUAGE, TZ and LC_* when set, the
 * variables `passThrough` names (a service's `deploy.env`), then `step` (the GREENLIGHT_*
 * variables describing the step, which win). `never` holds names that must not pass even if
 * listed (webhook secrets); Greenlight's own variables never pass either.
 */
export function childEnv(
  source: NodeJS.ProcessEnv,
  passThrough: readonly string[],
  step: Readonly<Record<string, string>>,
  never: ReadonlySet<string> = new Set(),
): NodeJS.ProcessEnv {
  const env: Record<string, string> = {};
  const allowed = (name: string) => !never.has(name) && !isGreenlightOwn(name);
  for (const [name, value] of Object.entries(source)) {
    if (value === undefined) continue;
    const base = (BASE_NAMES as readonly string[]).includes(name) || LOCALE_PATTERN.test(name);
    if ((base || passThrough.includes(name)) && allowed(name)) env[name] = value;
  }
  return { ...env, ...step };
}

/** Gives the environment of a child process run for a service. */
export interface ChildEnvSource {
  /** The whole environment of a child process run for `service`, with the step's variables. */
  for(service: string, step: Readonly<Record<string, string>>): NodeJS.ProcessEnv;
}

/** Child environments per service, from Greenlight's environment and each `deploy.env`. */
export class ChildEnvironments implements ChildEnvSource {
  private readonly source: NodeJS.ProcessEnv;
  private readonly passThrough: ReadonlyMap<string, readonly string[]>;
  private readonly never: ReadonlySet<string>;

  constructor(source: NodeJS.ProcessEnv, services: Readonly<Record<string, ServiceConfig>>) {
    this.source = source;
    this.passThrough = new Map(Object.entries(services).map(([name, s]) => [name, s.deploy.env]));
    this.never = new Set(
      Object.values(services).flatMap((s) =>
        'webhook' in s.deploy ? [s.deploy.webhook.secretEnv] : [],
      ),
    );
  }

  for(service: string, step: Readonly<Record<string, string>>): NodeJS.ProcessEnv {
    return childEnv(this.source, this.passThrough.get(service) ?? [], step, this.never);
  }
}
