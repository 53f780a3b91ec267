import type { AnalysisReading, Verdict } from './analysis.ts';
import type { ChecklistPhase } from './checklist.ts';
import type { ErrorEvidence } from './error-evidence.ts';
import type { FlagOutcome } from './flags.ts';
import type { Slot } from './slots.ts';

/** Something that happened to a release: a click, a command, or a step's outcome. */
export type ReleaseEvent =
  | { type: 'approve'; user: string; roles: readonly string[] }
  | { type: 'reject'; user: string; reason?: string }
  | { type: 'switched'; observeUntil?: string }
  | { type: 'promote'; user: string; fromStep?: number }
  | { type: 'pause'; user: string; reason: string }
  | { type: 'resume'; user: string }
  | {
      type: 'analysis';
      canary: AnalysisReading;
      baseline?: AnalysisReading;
      verdict: Verdict;
      breachLimit: number;
      /** Consecutive no-data readings after which the release pauses and asks. */
      failedReadLimit: number;
      samples?: { canary: unknown; baseline: unknown };
      evidence?: ErrorEvidence;
      /**
       * The release's `analysis.checks` when the tick read it: a reading judged from samples
       * another tick has since moved on from counts that interval again, and is dropped.
       */
      afterChecks: number;
      /** Shadow mode: recorded and reported, never acted on. */
      shadow?: boolean;
    }
  | { type: 'sampled'; samples: { canary: unknown; baseline: unknown } }
  | {
      type: 'hold_passed';
      autoPromote: boolean;
      /** The step the decision was made for: it counts only while the canary is still there. */
      stepStartedAt: string;
      /** Shadow mode: the hold's time ended; the verdict was not a pass (said, not hidden). */
      byTime?: string;
    }
  /** The hold's time is up without evidence either way: ask for Promote anyway or Roll back. */
  | { type: 'hold_inconclusive'; missing: string; stepStartedAt: string }
  | { type: 'expire'; reason: string }
  | { type: 'observed'; verdict?: string; byTime?: string }
  | { type: 'switch_failed'; reason: string }
  | { type: 'switch_held'; reason: string }
  | {
      type: 'rollback';
      user: string;
      reason: string;
      approvedBy?: string;
      /** A deadline's rollback: only while the release is still at the revision it was due at. */
      atRevision?: number;
    }
  | { type: 'rollback_requested'; user: string; reason: string }
  | { type: 'expire_approvals'; olderThan: string }
  | { type: 'void_approvals'; reason: string }
  | { type: 'rolled_back'; path: 'switch' | 'redeploy'; flags?: readonly FlagOutcome[] }
  | { type: 'rollback_failed'; reason: string; flags?: readonly FlagOutcome[] }
  /** Pre-switch steps (step-transitions.ts): `index` is the step the event was made for. */
  | { type: 'approve_step'; user: string; roles: readonly string[]; index: number }
  | { type: 'step_started'; index: number }
  | { type: 'step_finished'; index: number }
  | { type: 'step_failed'; index: number; reason: string }
  /** An irreversible step found started and never finished: it waits for a person's word. */
  | { type: 'step_interrupted'; index: number }
  /** A person's word on an interrupted step: it completed (go on) or it did not (fail). */
  | {
      type: 'resolve_step';
      user: string;
      roles: readonly string[];
      index: number;
      completed: boolean;
    }
  /** Checklist boxes a person changed: each item ticked (true) or unticked (false). */
  | {
      type: 'tick';
      user: string;
      phase: ChecklistPhase;
      changes: readonly { item: string; ticked: boolean }[];
    }
  /** The rollback window ended, or a newer release went live: post items are no longer tracked. */
  | { type: 'close_checklist'; supersededBy?: string }
  /** The half-way reminder of open post-release items was sent (it is sent once). */
  | { type: 'checklist_reminded' }
  /** A provider flag set while the release is live (`percent` 0: off). */
  | { type: 'flag_set'; user: string; name: string; percent: number; reason?: string }
  /** A flag's percentage ramp started in the stability window, approved by `user`. */
  | { type: 'flag_ramp'; user: string; name: string; steps: readonly number[]; holdMinutes: number }
  /** The ramp's next step is live at the provider (fenced to the step it was decided at). */
  | { type: 'flag_ramp_step'; stepStartedAt: string };

/** What the runner must do after a transition; the machine decides, it never acts. */
export type ReleaseEffect =
  /** The switch step runs for this revision: it checks STANDBY, moves traffic, verifies. */
  | { type: 'switch_traffic' }
  /** Desired traffic changed: the reconciler moves the proxy towards it now. */
  | { type: 'drive_traffic' }
  /** The rollback step runs for this revision. */
  | { type: 'rollback_traffic' }
  /** The service's PRODUCTION becomes this slot, in the same write. */
  | { type: 'production'; slot: Slot }
  | { type: 'free_service' }
  | { type: 'report_released' }
  | { type: 'start_analysis' }
  | { type: 'auto_rollback'; reason: string }
  | { type: 'report_rolled_back' }
  /** The current pre-switch step runs (a job, like a deploy). */
  | { type: 'run_step' };

export type RefusalCode =
  | 'not_allowed'
  | 'already_approved'
  | 'release_ended'
  | 'illegal_transition'
  /** Approve while a required pre-release item is unticked. */
  | 'checklist_open';

/** An event the release cannot take in its state; `message` is fit for the person who caused it. */
export class TransitionRefused extends Error {
  readonly code: RefusalCode;
  constructor(code: RefusalCode, message: string) {
    super(message);
    this.name = 'TransitionRefused';
    this.code = code;
  }
}

/** One kind of event, by its `type`. */
export type EventOf<T extends ReleaseEvent['type']> = Extract<ReleaseEvent, { type: T }>;
