import type { AnalysisReading } from '../domain/analysis.ts';
import type { Release } from '../domain/release.ts';
import type { Commit } from '../domain/release-notes.ts';
import type { ServiceState } from '../domain/service-state.ts';
import type { Slot } from '../domain/slots.ts';

// So are the lock ports, in lock-ports.ts.
export type { Lease, Locks } from './lock-ports.ts';
export { LockBusyError, LockLostError } from './lock-ports.ts';
// The traffic ports live in traffic-ports.ts; importers of ports.ts keep finding them here.
export type {
  InstanceTraffic,
  MoveOptions,
  TrafficState,
  TrafficSwitcher,
} from './traffic-ports.ts';
export { MoveUndoneError, PartialMoveError, setWeights } from './traffic-ports.ts';

/**
 * State in Redis. Every write is a compare-and-set on the stored revision: it succeeds only if
 * nobody wrote since `expected` was read (0 = the key does not exist yet), so a stale worker can
 * never overwrite a newer decision.
 */
export interface StateStore {
  getService(service: string): Promise<ServiceState | null>;
  getRelease(id: string): Promise<Release | null>;
  /** Most recent first. */
  listReleases(service: string, limit: number): Promise<Release[]>;
  /** Writes all or nothing; false when any revision moved on. */
  commit(writes: StateWrites): Promise<boolean>;
}

export interface StateWrites {
  readonly service?: { readonly next: ServiceState; readonly expected: number };
  readonly release?: { readonly next: Release; readonly expected: number };
}

/**
 * Work that runs in a worker, possibly on another machine, possibly twice. Ids carry the release
 * revision a step was asked for, so a step wanted again runs again and a re-delivery runs once.
 */
export type StepJob =
  | { readonly step: 'deploy'; readonly service: string; readonly operationId: string }
  | { readonly step: 'switch'; readonly releaseId: string; readonly revision: number }
  | { readonly step: 'rollback'; readonly releaseId: string; readonly attempt: number }
  /** Drive a service's traffic to its desired state (after a transition changed it). */
  | { readonly step: 'traffic'; readonly service: string; readonly cause: string }
  /** A pre-switch step; `attempt` is when it became ready (ms), so each readiness runs once. */
  | {
      readonly step: 'pre_switch';
      readonly releaseId: string;
      readonly index: number;
      readonly attempt: number;
    };

export type JobState = 'pending' | 'done' | 'failed' | 'missing';

export interface StepScheduler {
  /** Enqueues a step under a deterministic id, so the same step enqueued twice runs once. */
  enqueue(job: StepJob): Promise<void>;
  /** Where that step's job is: waiting or running, finished, given up on, or gone. */
  jobState(job: StepJob): Promise<JobState>;
  /** Progress updates every `everyMs` while a release is active; one schedule per release. */
  startProgress(releaseId: string, everyMs: number): Promise<void>;
  stopProgress(releaseId: string): Promise<void>;
  /** Analysis ticks every `everyMs` while a release ramps or observes; idempotent. */
  startAnalysis(releaseId: string, everyMs: number): Promise<void>;
  stopAnalysis(releaseId: string): Promise<void>;
}

/** Reads what a slot served over the last interval, from HAProxy's stats or Prometheus. */
export interface MetricsSource {
  /**
   * `previous` is what the last read returned as `sample` for this slot (sources with
   * cumulative counters compute deltas from it); `sample` is stored for the next read.
   */
  read(
    service: string,
    slot: Slot,
    previous: unknown,
    /** When the reading is taken, by Greenlight's clock. */
    at?: Date,
  ): Promise<{ reading: AnalysisReading; sample: unknown }>;
}

export type ProbeResult = { ok: true } | { ok: false; reason: string };

export interface SlotProbe {
  /** One health probe of a slot, against its configured path and status. */
  health(service: string, slot: Slot): Promise<ProbeResult>;
  /** The version the slot reports, or a reason it could not be read. */
  version(
    service: string,
    slot: Slot,
  ): Promise<{ ok: true; version: string } | { ok: false; reason: string }>;
}

export interface DeployRequest {
  readonly service: string;
  readonly version: string;
  readonly slot: Slot;
  /** Release or operation id, passed to the deploy step as GREENLIGHT_RELEASE_ID. */
  readonly releaseId: string;
  /** Aborting it stops the deploy at once (its whole process group is killed). */
  readonly signal?: AbortSignal;
}

/** One run of a service's pre-switch step (`steps.<name>.command`), for a release. */
export interface PreSwitchStepRequest {
  readonly service: string;
  readonly step: string;
  readonly version: string;
  /** The slot the release moves traffic to (STANDBY, running the new version). */
  readonly slot: Slot;
  readonly releaseId: string;
}

/** Runs pre-switch step commands like deploy commands: argv, allow-listed env, redacted output. */
export interface StepCommandRunner {
  run(request: PreSwitchStepRequest): Promise<DeployOutcome>;
}

export type DeployOutcome = { ok: true } | { ok: false; reason: string; outputTail: string };

export interface Deployer {
  deploy(request: DeployRequest): Promise<DeployOutcome>;
}

/** Resolves role members: user ids as they are, user groups (S…) through Slack. */
export interface Directory {
  /** Never grants on failure: a group that cannot be resolved contributes nobody. */
  members(principals: readonly string[]): Promise<string[]>;
}

export type DeployKind = 'bump' | 'sync';

/** A deploy as people see it in the channel. */
export interface DeployNotice {
  readonly operationId: string;
  readonly kind: DeployKind;
  readonly service: string;
  readonly version: string;
  readonly slot: Slot;
  readonly slotUrl: string;
  readonly by: string;
  readonly productionVersion: string | null;
}

/** What Greenlight tells people, as facts; the Slack adapter decides how it looks. */
export interface Notifier {
  deployStarted(notice: DeployNotice): Promise<void>;
  deployFinished(
    notice: DeployNotice,
    outcome: { ok: true } | { ok: false; reason: string; outputTail?: string },
  ): Promise<void>;
  /** The release's parent message (created or edited in place) and its latest timeline entry. */
  releaseChanged(release: Release, service: ServiceState): Promise<void>;
  /** A free-form reply in the release's thread. */
  releaseNote(release: Release, key: string, text: string): Promise<void>;
  releaseReport(release: Release, service: ServiceState): Promise<void>;
  rollbackAlert(
    release: Release,
    service: ServiceState,
    status: 'in_progress' | 'done' | 'failed',
  ): Promise<void>;
  drift(service: string, channel: string, detail: string): Promise<void>;
  /** Redis had no record of the service: what Greenlight adopted from the proxy. */
  adopted(service: string, channel: string, detail: string): Promise<void>;
  /** A flag changed by /flag: in the release thread, and in the alerts channel when turned off. */
  flagChanged(notice: FlagNotice): Promise<void>;
  /**
   * The periodic progress reply in the thread; `sequence` keeps one per tick. `loadBalancers`:
   * one line per load balancer of a fleet of several, with what it sends.
   */
  progress(
    release: Release,
    service: ServiceState,
    sequence: number,
    loadBalancers?: readonly string[],
  ): Promise<void>;
}

/** A flag change as people see it; `percent` 0 means off. */
export interface FlagNotice {
  readonly service: string;
  readonly flag: string;
  readonly environment: string;
  readonly by: string;
  readonly percent: number;
  readonly reason?: string;
  /** The live release it was recorded on, whose thread it goes to. */
  readonly release?: Release;
}

export interface Clock {
  now(): Date;
}

export interface IdGenerator {
  next(prefix: string): string;
}

/** One line of the audit trail: who did what, when, to which release, with before and after. */
export interface AuditEntry {
  readonly at: string;
  /** A Slack user id, or `greenlight` for automatic steps. */
  readonly who: string;
  readonly what: string;
  readonly service?: string;
  readonly releaseId?: string;
  readonly before?: unknown;
  readonly after?: unknown;
}

export interface AuditLog {
  append(entry: AuditEntry): Promise<void>;
  /** Entries after `afterId` (exclusive), oldest first. */
  read(options: { afterId?: string; limit: number }): Promise<{ id: string; entry: AuditEntry }[]>;
}

/** A version rolled back for a service, so it is not released again by mistake. */
export interface FaultyMark {
  readonly version: string;
  readonly by: string;
  readonly reason: string;
  readonly at: string;
  readonly releaseId: string;
}

export interface FaultyVersions {
  mark(service: string, mark: FaultyMark): Promise<void>;
  get(service: string, version: string): Promise<FaultyMark | null>;
  /** Removes the mark; returns what it was, or null if there was none. */
  unmark(service: string, version: string): Promise<FaultyMark | null>;
}

export interface GateResult {
  readonly name: string;
  readonly ok: boolean;
  readonly blocking: boolean;
  readonly detail: string;
}

/** Runs a service's pre-release gates (http, command, env) from greenlight.yml. */
export interface GateRunner {
  run(service: string, context: { version: string; slot: Slot }): Promise<GateResult[]>;
}

/** What operators chart: release outcomes, rollbacks, approval waits. */
export interface ReleaseTelemetry {
  releaseEnded(service: string, outcome: string, durationSeconds: number): void;
  rollbackStarted(service: string, trigger: 'manual' | 'automatic'): void;
  approved(service: string, waitSeconds: number): void;
}

/** The commits between two versions, from the tags of a service's repository (`changes.git`). */
export type ChangeLogResult =
  | {
      readonly ok: true;
      /** Newest first, merges left out. */
      readonly commits: readonly Commit[];
      readonly fromTag: string;
      readonly toTag: string;
    }
  /** Why not, in one line a card can show: `tag v2.4.1 not found in <repo>`. */
  | { readonly ok: false; readonly reason: string };

export interface ChangeLog {
  /** Never throws: a missing tag or an unreachable repository is `ok: false` with the reason. */
  between(service: string, fromVersion: string, toVersion: string): Promise<ChangeLogResult>;
}
