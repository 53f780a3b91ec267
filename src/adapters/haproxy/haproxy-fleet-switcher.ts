import { LockLostError } from '../../app/lock-ports.ts';
import type {
  InstanceTraffic,
  MoveOptions,
  TrafficState,
  TrafficSwitcher,
} from '../../app/ports.ts';
import { MoveUndoneError, PartialMoveError, setWeights } from '../../app/traffic-ports.ts';
import {
  allOn,
  describeWeights,
  type SlotWeights,
  sameWeights,
  splitTo,
} from '../../domain/desired-traffic.ts';
import type { AudienceEntry } from '../../domain/rings.ts';
import { SLOTS, type Slot } from '../../domain/slots.ts';
import { fleetAudience, setFleetAudience } from './haproxy-fleet-audience.ts';
import { sumStats } from './haproxy-fleet-stats.ts';
import { HaproxyError } from './haproxy-runtime-api.ts';
import type { HaproxyTrafficSwitcher } from './haproxy-traffic-switcher.ts';

/** One load balancer of a fleet; its switcher knows the service's backend on that instance. */
export interface HaproxyFleetInstance {
  readonly name: string;
  readonly region: string;
  readonly switcher: HaproxyTrafficSwitcher;
}

export interface HaproxyFleet {
  readonly instances: readonly HaproxyFleetInstance[];
  /** `all`: every instance at once; `region`: one region after another, in config order. */
  readonly order: 'all' | 'region';
  /** With `order: region`, how long a switched region soaks before the next one moves. */
  readonly regionSoakMs: number;
}

type Outcome = { instance: HaproxyFleetInstance; changed: boolean; error?: string };

const failures = (failed: readonly Outcome[]) =>
  failed.map((f) => `${f.instance.name} (${f.instance.region}) failed: ${f.error}`).join('; ');

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * One service behind several HAProxy instances. Every move is applied to each instance and read
 * back from each; an instance that fails is tried once more, and if it still fails a forward move
 * (a release switching or ramping) is undone on the instances it reached, so no load balancer
 * keeps sending users to a version the others do not serve. A move back to known-good traffic
 * (PRODUCTION, a rollback) keeps what it reached: undoing it would put the bad version back.
 */
export class HaproxyFleetSwitcher implements TrafficSwitcher {
  private readonly fleets: ReadonlyMap<string, HaproxyFleet>;
  private readonly retryDelayMs: number;

  constructor(fleets: ReadonlyMap<string, HaproxyFleet>, options: { retryDelayMs?: number } = {}) {
    this.fleets = fleets;
    this.retryDelayMs = options.retryDelayMs ?? 1000;
  }

  has(service: string): boolean {
    return this.fleets.has(service);
  }

  private fleet(service: string): HaproxyFleet {
    const fleet = this.fleets.get(service);
    if (fleet === undefined) throw new HaproxyError(`no HAProxy fleet configured for ${service}`);
    return fleet;
  }

  private async readAll(service: string): Promise<InstanceTraffic[]> {
    return Promise.all(
      this.fleet(service).instances.map(async ({ name, region, switcher }) => {
        try {
          return { name, region, state: await switcher.inspect(service) };
        } catch (error) {
          return { name, region, error: (error as Error).message };
        }
      }),
    );
  }

  async inspect(service: string): Promise<TrafficState> {
    const instances = await this.readAll(service);
    const states = instances.flatMap((i) => (i.state ? [i.state] : []));
    if (states.length === 0) {
      throw new HaproxyError(
        `no HAProxy instance of ${service} answers (${instances.map((i) => `${i.name}: ${i.error}`).join('; ')})`,
      );
    }
    // Combined so that any disagreement between instances reads as a difference from desired
    // (which always adds up to 100): the highest weights add up to more, unless an instance
    // sends nothing at all; then the lowest add up to less.
    const pick = (f: (...n: number[]) => number) => ({
      blue: f(...states.map((s) => s.weights.blue)),
      green: f(...states.map((s) => s.weights.green)),
    });
    const highest = pick(Math.max);
    const agree = states.every((s) => sameWeights(s.weights, highest));
    return {
      serving: SLOTS.filter((slot) => states.some((s) => s.serving.includes(slot))),
      weights: agree || highest.blue + highest.green > 100 ? highest : pick(Math.min),
      up: SLOTS.filter((slot) => states.every((s) => s.up.includes(slot))),
      instances,
    };
  }

  /** The latest start among the instances that answer: a reload of any one shows, unless it
   * lands in the same second as another's latest start with a smaller pid part. */
  async startedAt(service: string): Promise<Date> {
    const starts = await Promise.all(
      this.fleet(service).instances.map((i) =>
        i.switcher.startedAt(service).then(
          (d) => d.getTime(),
          () => 0,
        ),
      ),
    );
    const latest = Math.max(...starts);
    if (latest === 0) throw new HaproxyError(`no HAProxy instance of ${service} answers`);
    return new Date(latest);
  }

  switchTo(service: string, slot: Slot, options?: MoveOptions): Promise<{ changed: boolean }> {
    return this.move(service, allOn(slot), (s) => s.switchTo(service, slot, options), options);
  }

  split(
    service: string,
    slot: Slot,
    percent: number,
    options?: MoveOptions,
  ): Promise<{ changed: boolean }> {
    if (percent >= 100) return this.switchTo(service, slot, options);
    return this.move(
      service,
      splitTo(slot, percent),
      (s) => s.split(service, slot, percent, options),
      options,
    );
  }

  audience(service: string): Promise<AudienceEntry[]> {
    return fleetAudience(service, this.fleet(service).instances);
  }

  setAudience(service: string, entries: readonly AudienceEntry[]): Promise<void> {
    return setFleetAudience(service, this.fleet(service).instances, entries);
  }

  /** Per-server counters summed over every instance; any instance unread is no data. */
  async stats(service: string, slot: Slot): Promise<Record<string, string>> {
    const rows = await Promise.all(
      this.fleet(service).instances.map((i) => i.switcher.stats(service, slot)),
    );
    return sumStats(rows);
  }

  private waves(fleet: HaproxyFleet): HaproxyFleetInstance[][] {
    if (fleet.order === 'all') return [[...fleet.instances]];
    const regions = [...new Set(fleet.instances.map((i) => i.region))];
    return regions.map((region) => fleet.instances.filter((i) => i.region === region));
  }

  private async move(
    service: string,
    want: SlotWeights,
    change: (switcher: HaproxyTrafficSwitcher) => Promise<{ changed: boolean }>,
    options: MoveOptions = {},
  ): Promise<{ changed: boolean }> {
    const fleet = this.fleet(service);
    const before = new Map((await this.readAll(service)).map((i) => [i.name, i.state?.weights]));
    const reached: HaproxyFleetInstance[] = [];
    const missed: Outcome[] = [];
    let changed = false;
    const waves = this.waves(fleet);
    for (const [index, wave] of waves.entries()) {
      // After a region's soak too: a holder whose lock lapsed moves no further region.
      options.lease?.assertHeld();
      // All settle before a lost lock is said: none is left moving after the lock is let go.
      const settled = await Promise.allSettled(
        wave.map((i) => this.moveOne(service, i, want, change, options)),
      );
      const lost = settled.find((r) => r.status === 'rejected');
      if (lost !== undefined) throw (lost as PromiseRejectedResult).reason;
      const outcomes = settled.map((r) => (r as PromiseFulfilledResult<Outcome>).value);
      reached.push(...outcomes.filter((o) => o.error === undefined).map((o) => o.instance));
      let failed = outcomes.filter((o) => o.error !== undefined);
      const waveChanged = outcomes.some((o) => o.changed);
      changed ||= waveChanged;
      if (failed.length === 0 && waveChanged && index < waves.length - 1) {
        // The region soaks before the next moves; then it must still show what was set.
        await sleep(fleet.regionSoakMs);
        failed = await this.verifyWave(service, wave, want);
      }
      if (failed.length > 0 && options.onPartialFailure === 'restore') {
        options.lease?.assertHeld();
        const healthy = reached.filter((r) => !failed.some((f) => f.instance === r));
        const message = `HAProxy ${failures(failed)}; retried once. ${await this.restore(service, healthy, before, options)}`;
        // Users behind an instance it moved (put back, or failed after its soak) were reached
        // already: the move is not tried again, nor a region's soak skipped by a retry.
        const moved = (i: HaproxyFleetInstance) => {
          const was = before.get(i.name);
          return was === undefined || !sameWeights(was, want);
        };
        throw reached.some(moved) ? new MoveUndoneError(message) : new HaproxyError(message);
      }
      // A move back to known-good traffic goes on to every other region: each one reached is
      // one less load balancer sending users to the version being left.
      missed.push(...failed);
    }
    if (missed.length > 0)
      throw new PartialMoveError(
        `HAProxy ${failures(missed)}; retried once. The others were moved.`,
        missed.map((f) => `${f.instance.name} (${f.instance.region})`),
      );
    return { changed };
  }

  /** Changes one instance and reads it back, with one more try after a pause. */
  private async moveOne(
    service: string,
    instance: HaproxyFleetInstance,
    want: SlotWeights,
    change: (switcher: HaproxyTrafficSwitcher) => Promise<{ changed: boolean }>,
    options: MoveOptions,
  ): Promise<Outcome> {
    let error = '';
    for (let attempt = 0; attempt < 2; attempt += 1) {
      if (attempt > 0) await sleep(this.retryDelayMs);
      options.lease?.assertHeld();
      try {
        const { changed } = await change(instance.switcher);
        const [check] = await this.verifyWave(service, [instance], want);
        if (check === undefined) return { instance, changed };
        error = check.error ?? '';
      } catch (caught) {
        if (caught instanceof LockLostError) throw caught;
        error = (caught as Error).message;
      }
    }
    return { instance, changed: false, error };
  }

  private async verifyWave(
    service: string,
    wave: readonly HaproxyFleetInstance[],
    want: SlotWeights,
  ): Promise<Outcome[]> {
    const checks = await Promise.all(
      wave.map(async (instance): Promise<Outcome | undefined> => {
        try {
          const state = await instance.switcher.inspect(service);
          if (!sameWeights(state.weights, want))
            return {
              instance,
              changed: false,
              error: `it sends ${describeWeights(state.weights)}, not ${describeWeights(want)}`,
            };
          const down = SLOTS.find((slot) => want[slot] > 0 && !state.up.includes(slot));
          if (down !== undefined)
            return { instance, changed: false, error: `its health check sees ${down} as down` };
          return undefined;
        } catch (caught) {
          return { instance, changed: false, error: (caught as Error).message };
        }
      }),
    );
    return checks.filter((c): c is Outcome => c !== undefined);
  }

  /** Puts each instance back to what it served before the move; says what it did. */
  private async restore(
    service: string,
    instances: readonly HaproxyFleetInstance[],
    before: ReadonlyMap<string, SlotWeights | undefined>,
    options: MoveOptions,
  ): Promise<string> {
    if (instances.length === 0) return 'No other instance had moved.';
    const results = await Promise.all(
      instances.map(async (instance) => {
        const weights = before.get(instance.name);
        if (weights === undefined) return `${instance.name}: left as is (unread before the move)`;
        try {
          await setWeights(instance.switcher, service, weights, { lease: options.lease });
          return `${instance.name} back to ${describeWeights(weights)}`;
        } catch (caught) {
          return `${instance.name} could not be restored (${(caught as Error).message})`;
        }
      }),
    );
    return `Restored the others so the service is not split: ${results.join(', ')}.`;
  }
}
