import type { FlagProvidersConfig } from '../../config/flags-schema.ts';
import type { ServiceConfig } from '../../config/greenlight-schema.ts';
import { ChildEnvironments } from './child-env.ts';
import { configuredSecrets, secretRedactor } from './secret-redactor.ts';

/** What every child process Greenlight starts goes through: the allow-listed environment going in, redaction of every configured secret coming out. */
export interface ChildProcessGuards {
  readonly children: ChildEnvironments;
  readonly redact: (text: string) => string;
}

/**
 * Built once by the composition root from the whole config, so every runner (deploys, gates,
 * steps, traffic commands, git) redacts the same secrets, the flag token and webhook secrets too.
 */
export function childProcessGuards(
  env: NodeJS.ProcessEnv,
  services: Readonly<Record<string, ServiceConfig>>,
  flagProviders: FlagProvidersConfig = {},
  secretEnvs: readonly string[] = [],
): ChildProcessGuards {
  return {
    children: new ChildEnvironments(env, services),
    redact: secretRedactor(configuredSecrets(env, services, flagProviders, secretEnvs)),
  };
}
