import type { MoveOptions, TrafficState, TrafficSwitcher } from '../../app/ports.ts';
import type { AudienceEntry } from '../../domain/rings.ts';
import { otherSlot, SLOTS, type Slot } from '../../domain/slots.ts';
import { tailOf } from '../deploy/command-deployer.ts';
import type { ChildEnvSource } from '../process/child-env.ts';
import { runArgv } from '../process/run-argv.ts';

export interface CommandTraffic {
  readonly switch: readonly string[];
  readonly status: readonly string[];
  readonly timeoutSeconds: number;
}

/** `blue=80 green=20` (words or lines) → weights; anything else is a clear error. */
export function parseStatus(output: string): Record<Slot, number> {
  const weights: Partial<Record<Slot, number>> = {};
  for (const match of output.matchAll(/\b(blue|green)\s*=\s*(\d{1,3})\b/g)) {
    weights[match[1] as Slot] = Number(match[2]);
  }
  if (weights.blue === undefined || weights.green === undefined) {
    throw new Error(
      `the status command must print blue=<weight> and green=<weight>, got "${tailOf(output).slice(0, 200)}"`,
    );
  }
  return { blue: weights.blue, green: weights.green };
}

/**
 * The traffic switch as commands, for proxies other than HAProxy (an nginx reload, the Argo
 * Rollouts CLI, a cloud load balancer's CLI): argv only, placeholders as whole arguments, no
 * shell. The status command is the proxy's truth, read before and after every change.
 */
export class CommandTrafficSwitcher implements TrafficSwitcher {
  private readonly services: ReadonlyMap<string, CommandTraffic>;
  private readonly env: ChildEnvSource;
  private readonly cwd: string;
  private readonly redact: (text: string) => string;

  /**
   * `env` gives each command its allow-listed environment; `redact` removes secret values from
   * output quoted in errors (they reach Slack as drift or failure reports).
   */
  constructor(
    services: ReadonlyMap<string, CommandTraffic>,
    env: ChildEnvSource,
    cwd: string,
    redact: (text: string) => string = (text) => text,
  ) {
    this.services = services;
    this.env = env;
    this.cwd = cwd;
    this.redact = redact;
  }

  private spec(service: string): CommandTraffic {
    const spec = this.services.get(service);
    if (spec === undefined) throw new Error(`no traffic command configured for ${service}`);
    return spec;
  }

  private async weights(service: string): Promise<Record<Slot, number>> {
    const spec = this.spec(service);
    const result = await runArgv(spec.status, {
      env: this.env.for(service, { GREENLIGHT_SERVICE: service }),
      redact: this.redact,
      cwd: this.cwd,
      timeoutSeconds: spec.timeoutSeconds,
      label: 'traffic status command',
    });
    if (!result.ok)
      throw new Error(
        `${result.reason}${result.output ? `: ${tailOf(result.output).slice(-300)}` : ''}`,
      );
    return parseStatus(result.output);
  }

  async inspect(service: string): Promise<TrafficState> {
    const weights = await this.weights(service);
    const serving = SLOTS.filter((slot) => weights[slot] > 0);
    const total = weights.blue + weights.green;
    const share = (slot: Slot) => (total > 0 ? Math.round((weights[slot] / total) * 100) : 0);
    // A command driver cannot see health checks; the slots' own probes cover health.
    return { serving, weights: { blue: share('blue'), green: share('green') }, up: SLOTS };
  }

  async switchTo(service: string, slot: Slot): Promise<{ changed: boolean }> {
    return this.split(service, slot, 100);
  }

  async split(service: string, slot: Slot, percent: number): Promise<{ changed: boolean }> {
    const before = await this.weights(service);
    if (before[slot] === percent && before[otherSlot(slot)] === 100 - percent)
      return { changed: false };
    const spec = this.spec(service);
    const argv = spec.switch.map((arg) =>
      arg === '{slot}' ? slot : arg === '{weight}' ? String(percent) : arg,
    );
    const result = await runArgv(argv, {
      env: this.env.for(service, {
        GREENLIGHT_SERVICE: service,
        GREENLIGHT_SLOT: slot,
        GREENLIGHT_WEIGHT: String(percent),
      }),
      redact: this.redact,
      cwd: this.cwd,
      timeoutSeconds: spec.timeoutSeconds,
      label: 'traffic switch command',
    });
    if (!result.ok)
      throw new Error(
        `${result.reason}${result.output ? `: ${tailOf(result.output).slice(-300)}` : ''}`,
      );
    const after = await this.weights(service);
    if (after[slot] !== percent) {
      throw new Error(
        `after the switch command the status says ${slot}=${after[slot]}, not ${percent}`,
      );
    }
    return { changed: true };
  }
}

/** Routes each service to its configured driver. */
export class RoutingTrafficSwitcher implements TrafficSwitcher {
  private readonly drivers: ReadonlyMap<string, TrafficSwitcher>;

  constructor(drivers: ReadonlyMap<string, TrafficSwitcher>) {
    this.drivers = drivers;
  }

  private driver(service: string): TrafficSwitcher {
    const driver = this.drivers.get(service);
    if (driver === undefined) throw new Error(`no traffic switch configured for ${service}`);
    return driver;
  }

  inspect(service: string) {
    return this.driver(service).inspect(service);
  }

  switchTo(service: string, slot: Slot, options?: MoveOptions) {
    return this.driver(service).switchTo(service, slot, options);
  }

  split(service: string, slot: Slot, percent: number, options?: MoveOptions) {
    return this.driver(service).split(service, slot, percent, options);
  }

  async startedAt(service: string): Promise<Date | undefined> {
    return this.driver(service).startedAt?.(service);
  }

  async audience(service: string): Promise<AudienceEntry[]> {
    return (await this.driver(service).audience?.(service)) ?? [];
  }

  async setAudience(service: string, entries: readonly AudienceEntry[]): Promise<void> {
    const driver = this.driver(service);
    if (driver.setAudience === undefined) {
      if (entries.length > 0) throw new Error(`${service}'s traffic driver cannot route audiences`);
      return;
    }
    await driver.setAudience(service, entries);
  }
}
