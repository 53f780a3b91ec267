import type { AnalysisReading, VerdictName } from './analysis.ts';
import type { Checklist } from './checklist.ts';
import type { FlagOutcome, ReleaseFlag } from './flags.ts';
import type { PreSwitchStep } from './pre-switch-steps.ts';
import type { ReleaseNotes } from './release-notes.ts';
import type { Slot } from './slots.ts';
import type { ReleaseType } from './version.ts';

export const RELEASE_STATES = [
  'awaiting_approval',
  'running_steps',
  'switching',
  'ramping',
  'observing',
  'released',
  'rejected',
  'cancelled',
  'failed',
  'rolling_back',
  'rolled_back',
] as const;
export type ReleaseState = (typeof RELEASE_STATES)[number];

/** States in which the release still holds its service: nothing else may run. */
export const ACTIVE_STATES: readonly ReleaseState[] = [
  'awaiting_approval',
  'running_steps',
  'switching',
  'ramping',
  'observing',
  'rolling_back',
];

/** States a release never leaves. */
export const ENDED_STATES: readonly ReleaseState[] = RELEASE_STATES.filter(
  (state) => !ACTIVE_STATES.includes(state),
);

export function isActive(release: Release): boolean {
  return ACTIVE_STATES.includes(release.state);
}

/** A canary in progress: which step it is at and since when. */
export interface CanaryProgress {
  readonly steps: readonly number[];
  /** The step whose weight is desired now (while switching: the one being moved to). */
  readonly stepIndex: number;
  readonly stepStartedAt: string;
  /** The hold passed and a human must click Promote (no autoPromote). */
  readonly awaitingPromotion?: boolean;
  /** When Promote was asked for: its deadline counts from here. */
  readonly promptedAt?: string;
  /** The revision at which a last step was held back by the calendar (a stage of its own). */
  readonly heldRevision?: number;
  /**
   * The hold's time passed without evidence either way: what is missing. Promote then means
   * "Promote anyway", recorded with who and this.
   */
  readonly withoutEvidence?: string;
  /** The hold of this step passed on evidence (not by time, as in shadow mode). */
  readonly holdPassed?: boolean;
  /** The steps left by a Promote without evidence (their indexes): not shown as passed. */
  readonly unproven?: readonly number[];
  /** Rings: step i is ring i, with who is in it and its soak, as configured at /release. */
  readonly rings?: readonly RingStage[];
}

/** One ring as a release walks it. */
export interface RingStage {
  readonly name: string;
  /** Who is in it, in words (`requests with X-Greenlight-Ring: internal`, `10 % of everyone`). */
  readonly who: string;
  readonly soakMinutes: number;
}

/** The analysis so far: consecutive breaches and the latest readings, canary and baseline. */
export interface AnalysisState {
  readonly checks: number;
  readonly breaches: number;
  /** Consecutive readings with no data (a failed or empty read). */
  readonly failedReads?: number;
  readonly lastVerdict?: VerdictName;
  readonly lastFigures?: readonly string[];
  readonly canary?: AnalysisReading;
  readonly baseline?: AnalysisReading;
  /** What the metrics source returned last, per slot, for deltas on the next reading. */
  readonly samples?: { readonly canary?: unknown; readonly baseline?: unknown };
  /**
   * The sequential test's running evidence across every interval so far: an `ErrorEvidence`
   * (error-judge.ts) as stored, read back through `readEvidence`.
   */
  readonly evidence?: unknown;
  /** Shadow mode (`analysis.dryRun`): judged and reported, never acted on. */
  readonly shadow?: boolean;
  /** When the last reading was taken: the sweeper restarts an analysis that went quiet. */
  readonly at?: string;
}

export interface Approval {
  readonly role: string;
  readonly user: string;
  readonly at: string;
}

export interface TimelineEntry {
  readonly at: string;
  /** A Slack user id, or `greenlight` for automatic steps. */
  readonly who: string;
  readonly what: string;
}

export interface RollbackRecord {
  readonly by: string;
  /** Who approved a rollback asked for outside the rollback window. */
  readonly approvedBy?: string;
  readonly reason: string;
  readonly at: string;
  /**
   * The release revision this attempt began at, which names its step's job. Later writes that
   * are not a new attempt (a /flag turned off meanwhile) leave it, so the step still runs once.
   */
  readonly attempt?: number;
  /** `switch`: old production was still warm; `redeploy`: the last good version was deployed first. */
  readonly path?: 'switch' | 'redeploy';
  /** The flags the rollback turned off first (the mitigation), each with its outcome. */
  readonly flags?: readonly FlagOutcome[];
}

/** A rolling back release's attempt: its revision when the rollback began (or, on records from
 * before attempts were kept, its revision now). */
export const rollbackAttempt = (release: Release): number =>
  release.rollback?.attempt ?? release.revision;

export interface Release {
  readonly id: string;
  readonly service: string;
  readonly version: string;
  readonly fromVersion: string;
  readonly type: ReleaseType;
  readonly strategy: 'bluegreen' | 'canary';
  readonly requester: string;
  /** Roles that must each approve, each by a different person. */
  readonly requiredRoles: readonly string[];
  readonly approvals: readonly Approval[];
  readonly state: ReleaseState;
  /** When the release entered its state: deadlines count from here. */
  readonly stateSince?: string;
  /** Production before the release (the rollback target) and the slot being released. */
  readonly fromSlot: Slot;
  readonly toSlot: Slot;
  /** Why a hotfix goes out during a freeze or outside release hours, and which window it is. */
  readonly freezeException?: { readonly justification: string; readonly window: string };
  readonly decidedBy?: string;
  readonly rejectReason?: string;
  readonly failure?: string;
  readonly rollback?: RollbackRecord;
  /** When traffic reached the new slot: the rollback window counts from here. */
  readonly releasedAt?: string;
  readonly canary?: CanaryProgress;
  /** End of the stability window; the release is done only after it. */
  readonly observeUntil?: string;
  /** A human or an inconclusive analysis stopped the ramp (or the window) until resumed. */
  readonly paused?: {
    readonly by: string;
    readonly reason: string;
    readonly at: string;
    /** The revision that paused it: each pause is told apart by it (see click-fence.ts). */
    readonly revision?: number;
  };
  readonly analysis?: AnalysisState;
  /** A rollback asked for outside the rollback window, waiting for its approval. */
  readonly pendingRollback?: { readonly by: string; readonly reason: string; readonly at: string };
  /** What changes, read from git when the release was requested (or why it could not be). */
  readonly notes?: ReleaseNotes;
  /** Steps before the switch (migrations), in order, with how far each got. */
  readonly steps?: readonly PreSwitchStep[];
  /** Pre- and post-release checklists and who ticked what (absent: none configured). */
  readonly checklist?: Checklist;
  /** Provider flags changed while the release was live: a rollback turns off those left on. */
  readonly flags?: readonly ReleaseFlag[];
  /** A flag ramping through its `rollout` steps in the stability window, one hold per step. */
  readonly flagRamp?: {
    readonly name: string;
    readonly steps: readonly number[];
    readonly stepIndex: number;
    readonly stepStartedAt: string;
  };
  readonly timeline: readonly TimelineEntry[];
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly revision: number;
}

export function missingRoles(release: Release): string[] {
  const met = new Set(release.approvals.map((a) => a.role));
  return release.requiredRoles.filter((role) => !met.has(role));
}
