import { releaseSchema, serviceStateSchema } from '../src/adapters/redis/state-schemas.ts';
import type { AppDeps } from '../src/app/app-deps.ts';
import type {
  AuditEntry,
  FaultyMark,
  JobState,
  Notifier,
  StateStore,
  StepJob,
  StepScheduler,
  TrafficSwitcher,
} from '../src/app/ports.ts';
import { parseConfig } from '../src/config/load-config.ts';
import type { Release } from '../src/domain/release.ts';
import type { ServiceState } from '../src/domain/service-state.ts';
import type { Slot } from '../src/domain/slots.ts';
import { type ManualClock, manualClock } from './clock.ts';

/**
 * The use cases' ports in memory, for table tests of decisions: a compare-and-set store, a
 * scheduler and notifier that record, a proxy that keeps weights, slots that report versions.
 * Nothing here decides anything; the use cases under test do. Time is a `ManualClock`: a test
 * moves it (`world.clock.advance(ms)`) instead of sleeping.
 */
export interface MemoryWorld {
  readonly deps: AppDeps;
  readonly services: Map<string, ServiceState>;
  readonly releases: Map<string, Release>;
  readonly jobs: StepJob[];
  /** Messages posted, as `method: text` (release notes and alerts). */
  readonly posts: string[];
  /** What the queue says of a step's job; tests set it (default: waiting or running). */
  jobState: (job: StepJob) => JobState;
  readonly audit: AuditEntry[];
  readonly weights: Record<Slot, number>;
  /** The clock the use cases read (`deps.clock`); move it to make time pass. */
  readonly clock: ManualClock;
}

/**
 * `now` is when the world starts: a `Date` (the world gets its own clock, stopped there) or a
 * `ManualClock` the test already holds. Either way `world.clock` is the clock to move.
 */
export function memoryWorld(yaml: string, now: Date | ManualClock): MemoryWorld {
  const config = parseConfig(yaml);
  const clock = now instanceof Date ? manualClock(now) : now;
  const services = new Map<string, ServiceState>();
  const releases = new Map<string, Release>();
  const jobs: StepJob[] = [];
  const posts: string[] = [];
  const world = { jobState: (_job: StepJob): JobState => 'pending' };
  const audit: AuditEntry[] = [];
  const weights: Record<Slot, number> = { blue: 100, green: 0 };
  const faulty = new Map<string, FaultyMark>();
  const store: StateStore = {
    getService: async (name) => services.get(name) ?? null,
    getRelease: async (id) => releases.get(id) ?? null,
    listReleases: async (name, limit) =>
      [...releases.values()]
        .filter((r) => r.service === name)
        .sort((a, b) => b.createdAt.localeCompare(a.createdAt))
        .slice(0, limit),
    commit: async ({ service, release }) => {
      // The same guard as RedisStateStore: a write is the next revision of what it read.
      for (const write of [service, release])
        if (write !== undefined && write.next.revision !== write.expected + 1)
          throw new Error(
            `revision must advance by one (expected ${write.expected}, next ${write.next.revision})`,
          );
      if (service && (services.get(service.next.service)?.revision ?? 0) !== service.expected)
        return false;
      if (release && (releases.get(release.next.id)?.revision ?? 0) !== release.expected)
        return false;
      // Stored as Redis stores them: as JSON, read back through the same schemas, so a record
      // the real store could not read back fails here too.
      const nextService =
        service && serviceStateSchema.parse(JSON.parse(JSON.stringify(service.next)));
      const nextRelease = release && releaseSchema.parse(JSON.parse(JSON.stringify(release.next)));
      if (service && nextService) services.set(service.next.service, nextService as ServiceState);
      if (release && nextRelease) releases.set(release.next.id, nextRelease as Release);
      return true;
    },
  };
  const scheduler: StepScheduler = {
    enqueue: async (job) => {
      jobs.push(job);
    },
    jobState: async (job) => world.jobState(job),
    startProgress: async () => undefined,
    stopProgress: async () => undefined,
    startAnalysis: async () => undefined,
    stopAnalysis: async () => undefined,
  };
  const notifier = new Proxy({} as Notifier, {
    get:
      (_target, method: string) =>
      async (...args: unknown[]) => {
        posts.push(`${method}: ${typeof args[2] === 'string' ? args[2] : ''}`);
      },
  });
  const traffic: TrafficSwitcher = {
    inspect: async () => ({
      serving: (['blue', 'green'] as const).filter((s) => weights[s] > 0),
      weights: { ...weights },
      up: ['blue', 'green'],
    }),
    switchTo: async (_service, slot) => {
      weights[slot] = 100;
      weights[slot === 'blue' ? 'green' : 'blue'] = 0;
      return { changed: true };
    },
    split: async (_service, slot, percent) => {
      weights[slot] = percent;
      weights[slot === 'blue' ? 'green' : 'blue'] = 100 - percent;
      return { changed: true };
    },
  };
  const deps: AppDeps = {
    config,
    store,
    scheduler,
    notifier,
    traffic,
    probe: {
      health: async () => ({ ok: true }),
      version: async (service, slot) => {
        const version = services.get(service)?.slots[slot].version;
        return version ? { ok: true, version } : { ok: false, reason: 'no version' };
      },
    },
    deployer: { deploy: async () => ({ ok: true }) },
    directory: {
      members: async (principals) =>
        principals.flatMap((p) => (p.startsWith('S') ? (config.roles[p] ?? []) : [p])),
    },
    locks: { withLock: (_name, _ttl, fn) => fn({ assertHeld: () => undefined }) },
    audit: {
      append: async (entry) => {
        audit.push(entry);
      },
      read: async () => [],
    },
    faulty: {
      mark: async (service, mark) => {
        faulty.set(`${service}/${mark.version}`, mark);
      },
      get: async (service, version) => faulty.get(`${service}/${version}`) ?? null,
      unmark: async (service, version) => faulty.get(`${service}/${version}`) ?? null,
    },
    gates: { run: async () => [] },
    metrics: {
      read: async () => ({
        // A healthy canary with traffic enough for evidence in one interval.
        reading: { requests: 100_000, errors: 0, errorRatePercent: 0, latencyMs: 10 },
        sample: null,
      }),
    },
    telemetry: { releaseEnded: () => {}, rollbackStarted: () => {}, approved: () => {} },
    clock,
    ids: { next: (kind) => `${kind}-${Math.random().toString(36).slice(2, 8)}` },
    log: { info: () => {}, warn: () => {}, error: () => {} },
  };
  return Object.assign(world, { deps, services, releases, jobs, posts, audit, weights, clock });
}
