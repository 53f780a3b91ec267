import { awaitsApproval, awaitsWord, currentStep } from './pre-switch-steps.ts';
import type { Release } from './release.ts';
import type { Operation } from './service-state.ts';

/** How long each waiting state may last, per service (greenlight.yml `deadlines`). */
export interface DeadlineRules {
  /** A release waiting for approvals expires after this. */
  readonly approvalMinutes: number;
  /** Switching (or a rollback step) that has not finished by then is undone. */
  readonly switchMinutes: number;
  /** A paused canary, window or unanswered Promote is rolled back after this. */
  readonly pausedMinutes: number;
  /** How long an approval holds (`approvalTtlMinutes`): an irreversible step waits no longer. */
  readonly approvalTtlMinutes?: number;
}

export type OverdueAction =
  | 'expire'
  | 'fail_switch'
  | 'roll_back'
  | 'retry_rollback'
  /** A pre-switch step was not approved, or did not finish, in time: the release fails. */
  | 'fail_steps';

export interface Deadline {
  readonly at: number;
  readonly action: OverdueAction;
  /** Why the release ends or acts, for the timeline and the channel. */
  readonly reason: string;
  /** When a reminder is due (half-way), for states that wait on a person. */
  readonly remindAt?: number;
}

const minutes = (n: number) => n * 60_000;

function phrase(n: number): string {
  return n >= 120 ? `${Math.round(n / 60)} h` : `${Math.round(n * 10) / 10} min`;
}

/**
 * The deadline of a release in its current state, or undefined for states that end on their own
 * (a hold or a stability window that the analysis passes) and for ended releases.
 */
export function releaseDeadline(release: Release, rules: DeadlineRules): Deadline | undefined {
  const since = Date.parse(release.stateSince ?? release.updatedAt);
  switch (release.state) {
    case 'awaiting_approval': {
      const at =
        Date.parse(release.stateSince ?? release.createdAt) + minutes(rules.approvalMinutes);
      return {
        at,
        action: 'expire',
        reason: `expired: no decision within ${phrase(rules.approvalMinutes)}`,
        remindAt: at - minutes(rules.approvalMinutes) / 2,
      };
    }
    case 'running_steps':
      return stepDeadline(release, rules, since);
    case 'switching':
      return {
        at: since + minutes(rules.switchMinutes),
        action: 'fail_switch',
        reason: `the switch did not finish within ${phrase(rules.switchMinutes)}`,
      };
    case 'ramping':
    case 'observing': {
      const waitingSince = release.paused
        ? Date.parse(release.paused.at)
        : release.canary?.awaitingPromotion && release.canary.promptedAt
          ? Date.parse(release.canary.promptedAt)
          : undefined;
      if (waitingSince === undefined) return undefined;
      const at = waitingSince + minutes(rules.pausedMinutes);
      return {
        at,
        action: 'roll_back',
        reason: release.paused
          ? `paused for ${phrase(rules.pausedMinutes)} without a decision (${release.paused.reason})`
          : `nobody promoted it within ${phrase(rules.pausedMinutes)}`,
        remindAt: at - minutes(rules.pausedMinutes) / 2,
      };
    }
    case 'rolling_back':
      // A failed rollback is tried again; traffic must end on the last good version.
      return {
        at: since + minutes(rules.switchMinutes),
        action: 'retry_rollback',
        reason: 'the rollback has not finished',
      };
    default:
      return undefined;
  }
}

/** A /bump or /sync ends by its deploy timeout, the readiness wait and a margin. */
export function operationDeadline(
  operation: Operation,
  limits: { deployTimeoutSeconds: number; readyTimeoutSeconds: number },
): number | undefined {
  if (operation.kind !== 'bump' && operation.kind !== 'sync') return undefined;
  return (
    Date.parse(operation.startedAt) +
    (limits.deployTimeoutSeconds + limits.readyTimeoutSeconds + 60) * 1000
  );
}

/**
 * Nothing waits forever: a step waiting for its approval fails the release after
 * `approvalMinutes` (with a reminder half-way), and a runnable step after its own timeout plus
 * `switchMinutes` (its command is killed at the timeout; the margin covers a queue that was slow
 * to start it).
 */
export function stepDeadline(
  release: Release,
  rules: DeadlineRules,
  since: number,
): Deadline | undefined {
  const step = currentStep(release);
  if (step === undefined) return undefined;
  const ready = step.readyAt ? Date.parse(step.readyAt) : since;
  // Both wait on a person: approving the step, or saying whether it completed once cut off.
  const word = awaitsWord(step);
  if (awaitsApproval(step) || word) {
    const waited = ready + rules.approvalMinutes * 60_000;
    // The release approvals must still hold when the step is approved: it runs, then the switch
    // follows on their word, so a step approved after they expired would switch on stale ones.
    const oldest = Math.min(...release.approvals.map((a) => Date.parse(a.at)));
    const expired =
      rules.approvalTtlMinutes === undefined || release.approvals.length === 0
        ? Number.POSITIVE_INFINITY
        : oldest + rules.approvalTtlMinutes * 60_000;
    const at = Math.min(waited, expired);
    return {
      at,
      action: 'fail_steps',
      reason:
        expired < waited
          ? `the release approvals expired (approvalTtlMinutes: ${phrase(rules.approvalTtlMinutes ?? 0)}) before anyone ${word ? `said whether ${step.name} completed` : `approved ${step.name}`}`
          : word
            ? `nobody said whether ${step.name} completed within ${phrase(rules.approvalMinutes)} after it was cut off; check it before anything else`
            : `nobody approved ${step.name} within ${phrase(rules.approvalMinutes)}`,
      remindAt: ready + (at - ready) / 2,
    };
  }
  const from = step.startedAt ? Date.parse(step.startedAt) : ready;
  return {
    at: from + step.timeoutSeconds * 1000 + rules.switchMinutes * 60_000,
    action: 'fail_steps',
    reason: `${step.name} did not finish within its timeout (${step.timeoutSeconds} s) and ${phrase(rules.switchMinutes)}`,
  };
}
