import type { Slot } from '../domain/slots.ts';
import type { GateResult, GateRunner } from './ports.ts';

interface Entry {
  readonly at: number;
  readonly results: Promise<GateResult[]>;
}

/**
 * The gate runner dry runs use: a result younger than the service's `dryRunGateCacheSeconds`
 * (same version, same slot) is reused instead of running the gates again, and dry runs that
 * arrive while the gates run wait for that one run. A cheap `/release --dry-run` repeated in a
 * loop therefore reaches the gates' endpoints and commands at most once per that age. Reused
 * details say how old they are. A real /release never goes through this.
 */
export class ReusedGateResults implements GateRunner {
  private readonly gates: GateRunner;
  private readonly maxAgeMs: (service: string) => number;
  private readonly now: () => number;
  private readonly entries = new Map<string, Entry>();

  constructor(gates: GateRunner, maxAgeMs: (service: string) => number, now: () => number) {
    this.gates = gates;
    this.maxAgeMs = maxAgeMs;
    this.now = now;
  }

  async run(service: string, context: { version: string; slot: Slot }): Promise<GateResult[]> {
    const maxAge = this.maxAgeMs(service);
    const key = `${service}\u0000${context.version}\u0000${context.slot}`;
    this.forgetOld();
    const cached = this.entries.get(key);
    if (cached !== undefined && this.now() - cached.at < maxAge) {
      const ageSeconds = Math.round((this.now() - cached.at) / 1000);
      const results = await cached.results;
      return ageSeconds < 1
        ? results
        : results.map((r) => ({ ...r, detail: `${r.detail} (checked ${ageSeconds} s ago)` }));
    }
    const results = this.gates.run(service, context);
    if (maxAge > 0) {
      const entry = { at: this.now(), results };
      this.entries.set(key, entry);
      // A run that failed outright is not kept: the next dry run tries again.
      results.catch(() => {
        if (this.entries.get(key) === entry) this.entries.delete(key);
      });
    }
    return results;
  }

  /** Drops entries no service would reuse any more, so the map stays small. */
  private forgetOld(): void {
    for (const [key, entry] of this.entries) {
      const service = key.slice(0, key.indexOf('\u0000'));
      if (this.now() - entry.at >= this.maxAgeMs(service)) this.entries.delete(key);
    }
  }
}
