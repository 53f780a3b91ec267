import type { FlagProvidersConfig } from '../../config/flags-schema.ts';
import type { ServiceConfig } from '../../config/greenlight-schema.ts';

/** What replaces a secret in text shown to people. */
export const REDACTED = '[redacted]';

/** Greenlight's own credentials, whose values never appear in Slack. */
const OWN_SECRETS = [
  'SLACK_BOT_TOKEN',
  'SLACK_SIGNING_SECRET',
  'SLACK_APP_TOKEN',
  'GREENLIGHT_AUDIT_TOKEN',
] as const;

/**
 * Every secret value configured for this Greenlight: its Slack credentials, the audit token, the
 * password in REDIS_URL (as written and decoded), every deploy webhook's `secretEnv` value and
 * the flag provider's token (`flagProviders.unleash.tokenEnv`).
 */
export function configuredSecrets(
  env: NodeJS.ProcessEnv,
  services: Readonly<Record<string, ServiceConfig>>,
  flagProviders: FlagProvidersConfig = {},
  /** Other variables the config names as holding secrets (`comms.webhooks[].secretEnv`). */
  secretEnvs: readonly string[] = [],
): string[] {
  const values: (string | undefined)[] = OWN_SECRETS.map((name) => env[name]);
  if (flagProviders.unleash) values.push(env[flagProviders.unleash.tokenEnv]);
  for (const name of secretEnvs) values.push(env[name]);
  for (const service of Object.values(services)) {
    if ('webhook' in service.deploy) values.push(env[service.deploy.webhook.secretEnv]);
  }
  if (env.REDIS_URL) {
    try {
      const password = new URL(env.REDIS_URL).password;
      values.push(password);
      values.push(decodeURIComponent(password));
    } catch {
      // not a URL: env validation refuses it before this runs
    }
  }
  return values.filter((v): v is string => v !== undefined && v.trim() !== '');
}

/**
 * Removes every occurrence of the given secret values from text (the output of a command posted
 * to Slack). Longest first, so a secret that contains another is removed whole.
 */
export function secretRedactor(secrets: readonly string[]): (text: string) => string {
  const sorted = [...new Set(secrets)].filter((s) => s !== '').sort((a, b) => b.length - a.length);
  if (sorted.length === 0) return (text) => text;
  return (text) => {
    let out = text;
    for (const secret of sorted) out = out.split(secret).join(REDACTED);
    return out;
  };
}
