import type { MoveOptions, TrafficState, TrafficSwitcher } from '../../app/ports.ts';
import type { AudienceEntry } from '../../domain/rings.ts';
import { otherSlot, SLOTS, type Slot } from '../../domain/slots.ts';
import { type AudienceMaps, readAudience, writeAudience } from './haproxy-audience.ts';
import {
  HaproxyError,
  type HaproxyRuntimeApi,
  type HaproxyServerState,
  isRunning,
  takesTraffic,
} from './haproxy-runtime-api.ts';

export interface HaproxyServiceTraffic {
  readonly api: HaproxyRuntimeApi;
  readonly backend: string;
  readonly servers: Readonly<Record<Slot, string>>;
  /** Rings: the map files of the backend's `use-server` rules. */
  readonly maps?: AudienceMaps;
}

/** Weight a slot gets when it takes all traffic (HAProxy's scale is 0–256). */
const FULL_WEIGHT = 100;

/**
 * Blue/green through HAProxy: the new slot is made ready first, and the old one is drained only
 * once HAProxy sees the new one running, so no request finds no server. The old slot keeps its
 * checks and open connections (drain, not maintenance) and stays warm for an instant rollback.
 */
export class HaproxyTrafficSwitcher implements TrafficSwitcher {
  private readonly services: ReadonlyMap<string, HaproxyServiceTraffic>;
  private readonly upTimeoutMs: number;

  constructor(services: ReadonlyMap<string, HaproxyServiceTraffic>, upTimeoutMs = 10_000) {
    this.services = services;
    this.upTimeoutMs = upTimeoutMs;
  }

  private target(service: string): HaproxyServiceTraffic {
    const target = this.services.get(service);
    if (target === undefined)
      throw new HaproxyError(`no HAProxy traffic configured for ${service}`);
    return target;
  }

  private async states(target: HaproxyServiceTraffic): Promise<Record<Slot, HaproxyServerState>> {
    const servers = await target.api.serverStates(target.backend);
    const find = (slot: Slot) => {
      const name = target.servers[slot];
      const found = servers.find((s) => s.name === name);
      if (found === undefined) {
        throw new HaproxyError(
          `HAProxy backend ${target.backend} has no server "${name}" (the ${slot} slot)`,
        );
      }
      return found;
    };
    return { blue: find('blue'), green: find('green') };
  }

  async inspect(service: string): Promise<TrafficState> {
    const states = await this.states(this.target(service));
    const serving = SLOTS.filter((slot) => takesTraffic(states[slot]));
    const total = serving.reduce((sum, slot) => sum + states[slot].weight, 0);
    const share = (slot: Slot) =>
      total > 0 && serving.includes(slot) ? Math.round((states[slot].weight / total) * 100) : 0;
    return {
      serving,
      weights: { blue: share('blue'), green: share('green') },
      up: SLOTS.filter((slot) => isRunning(states[slot])),
    };
  }

  /**
   * The process's start, with its pid as the milliseconds (see `processInstant`). Compared for
   * equality only.
   */
  async startedAt(service: string): Promise<Date> {
    const { seconds, pid } = await this.target(service).api.processStart();
    return processInstant(seconds, pid);
  }

  async switchTo(
    service: string,
    slot: Slot,
    options?: MoveOptions,
  ): Promise<{ changed: boolean }> {
    const target = this.target(service);
    const be = target.backend;
    const next = target.servers[slot];
    const previous = target.servers[otherSlot(slot)];
    const before = await this.states(target);
    if (takesTraffic(before[slot]) && !takesTraffic(before[otherSlot(slot)]))
      return { changed: false };

    await target.api.apply([
      `set server ${be}/${next} state ready`,
      `set weight ${be}/${next} ${FULL_WEIGHT}`,
    ]);
    if (!(await this.waitRunning(target, slot))) {
      // Never drain production towards a slot HAProxy considers down: undo and say why.
      await target.api.apply([`set server ${be}/${next} state drain`]).catch(() => undefined);
      throw new HaproxyError(
        `HAProxy does not see ${slot} (${be}/${next}) as up: its health check is failing`,
      );
    }
    // The wait for the slot can be long: production is drained only if the lock is still held.
    options?.lease?.assertHeld();
    await target.api.apply([`set server ${be}/${previous} state drain`]);
    return { changed: true };
  }

  async split(
    service: string,
    slot: Slot,
    percent: number,
    options?: MoveOptions,
  ): Promise<{ changed: boolean }> {
    if (percent >= 100) return this.switchTo(service, slot, options);
    const target = this.target(service);
    const be = target.backend;
    const next = target.servers[slot];
    const previous = target.servers[otherSlot(slot)];
    const before = await this.states(target);
    const nextState = before[slot];
    const previousState = before[otherSlot(slot)];
    if (
      takesTraffic(nextState) &&
      nextState.weight === percent &&
      takesTraffic(previousState) &&
      previousState.weight === 100 - percent
    ) {
      return { changed: false };
    }
    await target.api.apply([
      `set server ${be}/${previous} state ready`,
      `set weight ${be}/${previous} ${100 - percent}`,
    ]);
    await target.api.apply([
      `set server ${be}/${next} state ready`,
      `set weight ${be}/${next} ${percent}`,
    ]);
    if (!(await this.waitRunning(target, slot))) {
      await target.api
        .apply([`set server ${be}/${next} state drain`, `set weight ${be}/${previous} 100`])
        .catch(() => undefined);
      throw new HaproxyError(
        `HAProxy does not see ${slot} (${be}/${next}) as up: its health check is failing`,
      );
    }
    return { changed: true };
  }

  /** Polls until HAProxy's own health check sees `slot` running, for at most upTimeoutMs. */
  private async waitRunning(target: HaproxyServiceTraffic, slot: Slot): Promise<boolean> {
    const deadline = Date.now() + this.upTimeoutMs;
    while (!isRunning((await this.states(target))[slot])) {
      if (Date.now() > deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return true;
  }

  async audience(service: string): Promise<AudienceEntry[]> {
    const target = this.target(service);
    return readAudience(target.api, target.maps ?? {}, target.servers);
  }

  async setAudience(service: string, entries: readonly AudienceEntry[]): Promise<void> {
    const target = this.target(service);
    await writeAudience(target.api, target.maps ?? {}, target.servers, entries);
  }

  /** Per-server counters from `show stat`, for the HAProxy analysis source. */
  async stats(service: string, slot: Slot): Promise<Record<string, string>> {
    const target = this.target(service);
    const csv = await target.api.send(`show stat ${target.backend} 4 -1`);
    const lines = csv.split('\n').filter(Boolean);
    const header = (lines[0] ?? '').replace(/^# /, '').split(',');
    for (const line of lines.slice(1)) {
      const fields = line.split(',');
      if (fields[0] === target.backend && fields[1] === target.servers[slot]) {
        return Object.fromEntries(header.map((name, i) => [name, fields[i] ?? '']));
      }
    }
    throw new HaproxyError(`HAProxy has no stats for ${target.backend}/${target.servers[slot]}`);
  }
}

/**
 * HAProxy tells a process's start only to the second, and two reloads within one second must
 * not look like one process (the second would pass for the proxy Greenlight last set, and a
 * STANDBY its defaults route to would be taken for a release Redis forgot): the pid goes in the
 * milliseconds, 1 to 999, never 0, which is what records written before the pid was kept carry
 * (older-than-proxy.ts matches those to any process of their second).
 */
export function processInstant(seconds: number, pid: number): Date {
  return new Date(seconds * 1000 + 1 + (pid % 999));
}
