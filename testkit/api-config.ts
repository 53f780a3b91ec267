/**
 * The YAML of a Greenlight config with one service, `api`, on a local HAProxy: the part every
 * use-case test shares (roles, channel, slots, deploy, traffic), so that a test's own config
 * shows only what it is about. Options are YAML as written; `top` and `api` go in verbatim.
 */
export interface ApiConfigOptions {
  /** The `roles:` mapping (default: lead U0LEAD, team U0DEV2, security U0SEC, cto U0CTO). */
  readonly roles?: string;
  /** Top-level lines before `services:` (timezone, freeze, flagProviders, comms), unindented. */
  readonly top?: string;
  /** `api`'s strategy; left out (the config's own default) when not given. */
  readonly strategy?: string;
  /** `api`'s deploy mapping (default: the command `./deploy.sh`). */
  readonly deploy?: string;
  /** `api`'s HAProxy servers and anything after them inside the `haproxy:` mapping. */
  readonly haproxy?: string;
  /** `api`'s further keys, each line indented by four spaces as under `api:`. */
  readonly api?: string;
  /** Further services after `api`, each line indented as under `services:`. */
  readonly others?: string;
}

export const DEFAULT_ROLES = '{ lead: [U0LEAD], team: [U0DEV2], security: [U0SEC], cto: [U0CTO] }';

export function apiConfig(options: ApiConfigOptions = {}): string {
  const lines = [
    'alertsChannel: C0ALERTS',
    `roles: ${options.roles ?? DEFAULT_ROLES}`,
    ...(options.top ? [options.top] : []),
    'services:',
    '  api:',
    '    channel: C0RELEASES',
    ...(options.strategy ? [`    strategy: ${options.strategy}`] : []),
    '    bootstrap: { production: blue, version: 2.4.0 }',
    '    slots: { blue: { url: "http://127.0.0.1:3001" }, green: { url: "http://127.0.0.1:3002" } }',
    `    deploy: ${options.deploy ?? '{ command: ["./deploy.sh"] }'}`,
    `    traffic: { haproxy: { runtimeApi: "127.0.0.1:9999", backend: api, ${options.haproxy ?? 'servers: { blue: blue, green: green }'} } }`,
    ...(options.api ? [options.api] : []),
    ...(options.others ? [options.others] : []),
  ];
  return `${lines.join('\n')}\n`;
}
