import { type Dispatcher, request } from 'undici';
import {
  type FlagProvider,
  FlagProviderError,
  type FlagRef,
  type FlagState,
} from '../../app/flag-ports.ts';

export interface UnleashSettings {
  readonly url: string;
  /** An Admin API token (service account or personal access token); sent, never logged. */
  readonly token: string;
  readonly project: string;
  readonly timeoutMs: number;
}

interface Strategy {
  readonly id: string;
  readonly name: string;
  readonly title?: string | null;
  readonly constraints?: readonly unknown[];
  readonly segments?: readonly unknown[];
  readonly parameters?: Record<string, string>;
}

/** The strategy Greenlight creates when a flag has no plain gradual rollout of its own. */
const MANAGED_TITLE = 'greenlight';

/**
 * Unleash through its Admin API over plain HTTP: `environments/:env/on|off` to enable or disable,
 * and one `flexibleRollout` strategy per environment whose `rollout` is the percentage. The
 * strategy it manages is the one titled `greenlight`, or else the first gradual rollout with no
 * constraints or segments (the one Unleash adds when a flag is enabled without any).
 */
export class UnleashFlagProvider implements FlagProvider {
  private readonly settings: UnleashSettings;
  private readonly dispatcher: Dispatcher;

  constructor(settings: UnleashSettings, dispatcher: Dispatcher) {
    this.settings = settings;
    this.dispatcher = dispatcher;
  }

  private path(flag: FlagRef, rest = ''): string {
    const { project } = this.settings;
    return `/api/admin/projects/${encodeURIComponent(project)}/features/${encodeURIComponent(flag.name)}${rest}`;
  }

  private envPath(flag: FlagRef, rest: string): string {
    return this.path(flag, `/environments/${encodeURIComponent(flag.environment)}${rest}`);
  }

  private async call(
    method: 'GET' | 'POST' | 'PUT',
    path: string,
    body?: unknown,
  ): Promise<unknown> {
    const { url, token, timeoutMs } = this.settings;
    let response: Dispatcher.ResponseData;
    try {
      response = await request(new URL(path, url), {
        method,
        dispatcher: this.dispatcher,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        signal: AbortSignal.timeout(timeoutMs),
        headers: {
          authorization: token,
          'content-type': 'application/json',
          'user-agent': 'greenlight',
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (error) {
      const why =
        (error as Error).name === 'TimeoutError'
          ? `no answer in ${timeoutMs} ms`
          : ((error as { code?: string }).code ?? (error as Error).message);
      throw new FlagProviderError('unreachable', `Unleash at ${url} is unreachable (${why})`);
    }
    const text = await response.body.text().catch(() => '');
    const status = response.statusCode;
    if (status >= 200 && status < 300) return text === '' ? null : JSON.parse(text);
    const message = messageOf(text, token);
    if (status === 404) {
      // A 404 on an environment's path may be the flag or the environment: name both.
      const env = /\/environments\/([^/]+)/.exec(path)?.[1];
      const where = env === undefined ? '' : ` with environment ${decodeURIComponent(env)}`;
      throw new FlagProviderError(
        'not_found',
        `Unleash has no flag ${flag(path)}${where} in project ${this.settings.project} (HTTP 404${message})`,
      );
    }
    if (status === 401 || status === 403)
      throw new FlagProviderError(
        'refused',
        `Unleash refused the token (HTTP ${status}): it needs an Admin API token with update rights on project ${this.settings.project}`,
      );
    throw new FlagProviderError(
      status >= 500 ? 'unreachable' : 'refused',
      `Unleash answered HTTP ${status}${message}`,
    );
  }

  async enable(flag: FlagRef): Promise<void> {
    await this.call('POST', this.envPath(flag, '/on'));
  }

  async disable(flag: FlagRef): Promise<void> {
    await this.call('POST', this.envPath(flag, '/off'));
  }

  async setPercent(flag: FlagRef, percent: number): Promise<void> {
    const strategies = (await this.call('GET', this.envPath(flag, '/strategies'))) as Strategy[];
    const managed = managedStrategy(strategies);
    const rollout = String(Math.round(percent));
    if (managed === undefined) {
      await this.call('POST', this.envPath(flag, '/strategies'), {
        name: 'flexibleRollout',
        title: MANAGED_TITLE,
        constraints: [],
        parameters: { rollout, stickiness: 'default', groupId: flag.name },
      });
      return;
    }
    await this.call('PUT', this.envPath(flag, `/strategies/${encodeURIComponent(managed.id)}`), {
      name: managed.name,
      title: managed.title ?? undefined,
      constraints: managed.constraints ?? [],
      segments: managed.segments ?? [],
      disabled: false,
      parameters: { stickiness: 'default', groupId: flag.name, ...managed.parameters, rollout },
    });
  }

  async read(flag: FlagRef): Promise<FlagState> {
    const feature = (await this.call('GET', this.path(flag))) as {
      environments?: { name: string; enabled: boolean; strategies?: Strategy[] }[];
    };
    const env = feature.environments?.find((e) => e.name === flag.environment);
    if (env === undefined)
      throw new FlagProviderError(
        'not_found',
        `Unleash flag ${flag.name} has no environment ${flag.environment}`,
      );
    const managed = managedStrategy(env.strategies ?? []);
    const percent = managed === undefined ? 100 : Number(managed.parameters?.rollout ?? 100);
    return { enabled: env.enabled, percent: Number.isFinite(percent) ? percent : 100 };
  }
}

function managedStrategy(strategies: readonly Strategy[]): Strategy | undefined {
  const plain = strategies.filter(
    (s) =>
      s.name === 'flexibleRollout' &&
      (s.constraints ?? []).length === 0 &&
      (s.segments ?? []).length === 0,
  );
  return plain.find((s) => s.title === MANAGED_TITLE) ?? plain[0];
}

function flag(path: string): string {
  return decodeURIComponent(/\/features\/([^/]+)/.exec(path)?.[1] ?? '?');
}

/** Unleash's own error message, cut short, and never with the token in it should it echo it. */
function messageOf(text: string, token: string): string {
  try {
    const parsed = JSON.parse(text) as { message?: unknown };
    if (typeof parsed.message !== 'string') return '';
    const said = token === '' ? parsed.message : parsed.message.split(token).join('[redacted]');
    return `: ${said.slice(0, 200)}`;
  } catch {
    return '';
  }
}
