/**
 * Counts failed authentications per client address in a sliding window: after `maxFailures`
 * within `windowMs`, the address is refused until the oldest of them leaves the window. Kept in
 * memory per process and bounded in size, so a flood of addresses cannot grow it without end.
 */
export class FailureRateLimit {
  private readonly failures = new Map<string, number[]>();
  private readonly maxFailures: number;
  private readonly windowMs: number;
  private readonly maxClients: number;
  private readonly now: () => number;

  constructor(
    options: {
      maxFailures?: number;
      windowMs?: number;
      maxClients?: number;
      now?: () => number;
    } = {},
  ) {
    this.maxFailures = options.maxFailures ?? 5;
    this.windowMs = options.windowMs ?? 60_000;
    this.maxClients = options.maxClients ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  private recent(client: string): number[] {
    const since = this.now() - this.windowMs;
    const kept = (this.failures.get(client) ?? []).filter((at) => at > since);
    if (kept.length === 0) this.failures.delete(client);
    else this.failures.set(client, kept);
    return kept;
  }

  /** Whole seconds the client must wait before trying again, or 0 when it may try now. */
  retryAfterSeconds(client: string): number {
    const recent = this.recent(client);
    if (recent.length < this.maxFailures) return 0;
    const oldest = recent[recent.length - this.maxFailures] ?? this.now();
    return Math.max(1, Math.ceil((oldest + this.windowMs - this.now()) / 1000));
  }

  recordFailure(client: string): void {
    const recent = this.recent(client);
    this.failures.delete(client);
    this.failures.set(client, [...recent, this.now()].slice(-this.maxFailures));
    // Oldest-touched addresses go first when the table is full.
    while (this.failures.size > this.maxClients) {
      const first = this.failures.keys().next().value;
      if (first === undefined) break;
      this.failures.delete(first);
    }
  }
}
