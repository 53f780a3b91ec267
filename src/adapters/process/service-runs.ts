import type { Dispatcher } from 'undici';
import type { ServiceConfig } from '../../config/greenlight-schema.ts';
import type { ChildEnvironments } from './child-env.ts';
import { type ChildProcessGuards, childProcessGuards } from './child-process-guards.ts';

/**
 * What the configured runners (deploys, gates, pre-switch steps) share to run a service's
 * commands or call its webhooks. `env` is Greenlight's own environment: secrets and the names `env`
 * gates check are read from it, and a child process gets only its allow-listed part (`children`);
 * whatever a child or webhook prints is shown through `redact`.
 */
export interface ServiceRuns {
  readonly services: Readonly<Record<string, ServiceConfig>>;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  readonly dispatcher: Dispatcher;
  readonly children: ChildEnvironments;
  readonly redact: (text: string) => string;
}

/** `guards` are built once by the composition root from the whole config; tests may leave them out. */
export function serviceRuns(
  services: Readonly<Record<string, ServiceConfig>>,
  env: NodeJS.ProcessEnv,
  cwd: string,
  dispatcher: Dispatcher,
  guards: ChildProcessGuards = childProcessGuards(env, services),
): ServiceRuns {
  return { services, env, cwd, dispatcher, children: guards.children, redact: guards.redact };
}
