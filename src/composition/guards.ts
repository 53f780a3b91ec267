import {
  type ChildProcessGuards,
  childProcessGuards,
} from '../adapters/process/child-process-guards.ts';
import type { GreenlightConfig } from '../config/greenlight-schema.ts';

/** One set of child-process guards per process: every configured secret, the same for all runners. */
const guardsByConfig = new WeakMap<GreenlightConfig, ChildProcessGuards>();
export function guardsFor(
  config: GreenlightConfig,
  processEnv: NodeJS.ProcessEnv,
): ChildProcessGuards {
  const known = guardsByConfig.get(config);
  if (known) return known;
  const guards = childProcessGuards(
    processEnv,
    config.services,
    config.flagProviders,
    config.comms.webhooks.map((hook) => hook.secretEnv),
  );
  guardsByConfig.set(config, guards);
  return guards;
}
