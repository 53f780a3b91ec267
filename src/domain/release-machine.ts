import type { AnalysisReading, Verdict } from './analysis.ts';
import type { ErrorEvidence } from './error-judge.ts';
import { ENDED_STATES, missingRoles, type Release, type ReleaseState } from './release.ts';
import type { Slot } from './slots.ts';
import { userText } from './user-text.ts';

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
  | { type: 'rolled_back'; path: 'switch' | 'redeploy' }
  | { type: 'rollback_failed'; reason: string };

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
  | { type: 'report_rolled_back' };

export type RefusalCode =
  | 'not_allowed'
  | 'already_approved'
  | 'release_ended'
  | 'illegal_transition';

/** An event the release cannot take in its state; `message` is fit for the person who caused it. */
export class TransitionRefused extends Error {
  readonly code: RefusalCode;
  constructor(code: RefusalCode, message: string) {
    super(message);
    this.name = 'TransitionRefused';
    this.code = code;
  }
}

function describeState(state: ReleaseState): string {
  switch (state) {
    case 'awaiting_approval':
      return 'is waiting for approval';
    case 'switching':
      return 'is switching traffic';
    case 'ramping':
      return 'is ramping up';
    case 'observing':
      return 'is in its stability window';
    case 'released':
      return 'was released';
    case 'rejected':
      return 'was rejected';
    case 'cancelled':
      return 'was cancelled';
    case 'failed':
      return 'failed';
    case 'rolling_back':
      return 'is rolling back';
    case 'rolled_back':
      return 'was rolled back';
  }
}

function refuse(release: Release, event: ReleaseEvent): never {
  const code = ENDED_STATES.includes(release.state) ? 'release_ended' : 'illegal_transition';
  throw new TransitionRefused(
    code,
    `${release.service} ${release.version} ${describeState(release.state)}; it cannot take "${event.type}" now.`,
  );
}

/**
 * The release state machine: pure, with time passed in. Every accepted event bumps the revision
 * (the store's compare-and-set uses it) and appends to the timeline.
 */
export function transition(
  release: Release,
  given: ReleaseEvent,
  now: Date,
): { release: Release; effects: ReleaseEffect[] } {
  // A reason a person typed is stored and shown under the user-text rule, whoever passed it in.
  const event: ReleaseEvent =
    'reason' in given &&
    typeof given.reason === 'string' &&
    'user' in given &&
    given.user !== 'greenlight'
      ? ({ ...given, reason: userText(given.reason) } as ReleaseEvent)
      : given;
  const at = now.toISOString();
  const next = (changes: Partial<Release>, who: string, what: string): Release => ({
    ...release,
    ...changes,
    ...(changes.state !== undefined && changes.state !== release.state ? { stateSince: at } : {}),
    timeline: [...release.timeline, { at, who, what }],
    updatedAt: at,
    revision: release.revision + 1,
  });
  /** A change that is not worth a timeline line (routine readings). */
  const quietly = (changes: Partial<Release>): Release => ({
    ...release,
    ...changes,
    updatedAt: at,
    revision: release.revision + 1,
  });
  const production: ReleaseEffect = { type: 'production', slot: release.toSlot };

  /** Traffic is fully on the new slot: observe for the stability window, or done at once. */
  const trafficMoved = (
    observeUntil: string | undefined,
    what: string,
    changes: Partial<Release> = {},
  ): { release: Release; effects: ReleaseEffect[] } =>
    observeUntil !== undefined
      ? {
          release: next(
            { ...changes, state: 'observing' as const, releasedAt: at, observeUntil },
            'greenlight',
            what,
          ),
          effects: [production, { type: 'report_released' }, { type: 'start_analysis' }],
        }
      : {
          release: next(
            { ...changes, state: 'released' as const, releasedAt: at },
            'greenlight',
            what,
          ),
          effects: [production, { type: 'free_service' }, { type: 'report_released' }],
        };

  /** The canary moves on to its next step: a weight the reconciler sets, or the full switch. */
  const nextStep = (who: string, what: string): { release: Release; effects: ReleaseEffect[] } => {
    const canary = release.canary;
    if (canary === undefined) refuse(release, event);
    const to = canary.stepIndex + 1;
    const weight = canary.steps[to] ?? 100;
    const moved = {
      ...canary,
      stepIndex: to,
      stepStartedAt: at,
      awaitingPromotion: false,
      withoutEvidence: undefined,
    };
    if (weight >= 100) {
      return {
        release: next(
          { state: 'switching', canary: moved, paused: undefined },
          who,
          `${what} to 100 %: ${release.toSlot} takes over`,
        ),
        effects: [{ type: 'switch_traffic' }],
      };
    }
    return {
      release: next(
        { canary: moved, paused: undefined },
        who,
        `${what} to ${weight} %: canary at ${weight} % (${release.toSlot} ${weight} %, ${release.fromSlot} ${100 - weight} %)`,
      ),
      effects: [{ type: 'drive_traffic' }],
    };
  };

  switch (event.type) {
    case 'approve': {
      if (release.state !== 'awaiting_approval') refuse(release, event);
      if (event.user === release.requester) {
        throw new TransitionRefused(
          'not_allowed',
          'You requested this release; someone else must approve it.',
        );
      }
      if (release.approvals.some((a) => a.user === event.user)) {
        throw new TransitionRefused(
          'already_approved',
          'You have already approved this release; each role needs a different person.',
        );
      }
      const missing = missingRoles(release);
      const role = missing.find((r) => event.roles.includes(r));
      if (role === undefined) {
        throw new TransitionRefused(
          'not_allowed',
          `This release needs approval from ${missing.join(' and ')}, and you are not in ${missing.length > 1 ? 'any of those roles' : 'that role'}.`,
        );
      }
      const approvals = [...release.approvals, { role, user: event.user, at }];
      const approved = missingRoles({ ...release, approvals }).length === 0;
      const canary =
        approved && release.canary
          ? { canary: { ...release.canary, stepIndex: Math.max(0, release.canary.stepIndex) } }
          : {};
      const updated = next(
        { approvals, ...canary, ...(approved ? { state: 'switching' as const } : {}) },
        event.user,
        `approved as ${role}`,
      );
      return { release: updated, effects: approved ? [{ type: 'switch_traffic' }] : [] };
    }
    case 'reject': {
      if (release.state !== 'awaiting_approval') refuse(release, event);
      return {
        release: next(
          {
            state: 'rejected',
            decidedBy: event.user,
            ...(event.reason ? { rejectReason: event.reason } : {}),
          },
          event.user,
          event.reason ? `rejected: ${event.reason}` : 'rejected',
        ),
        effects: [{ type: 'free_service' }],
      };
    }
    case 'switched': {
      if (release.state !== 'switching') refuse(release, event);
      const canary = release.canary;
      const weight = canary ? (canary.steps[canary.stepIndex] ?? 100) : 100;
      if (canary !== undefined && weight < 100) {
        return {
          release: next(
            {
              state: 'ramping',
              canary: { ...canary, stepStartedAt: at, awaitingPromotion: false },
              paused: undefined,
            },
            'greenlight',
            `canary at ${weight} %: ${release.toSlot} ${weight} %, ${release.fromSlot} ${100 - weight} %`,
          ),
          effects: [{ type: 'start_analysis' }],
        };
      }
      const moved = trafficMoved(
        event.observeUntil,
        canary
          ? `${release.toSlot} takes 100 % of traffic`
          : `traffic switched ${release.fromSlot} → ${release.toSlot}`,
        canary ? { canary: { ...canary, stepStartedAt: at }, paused: undefined } : {},
      );
      // The analysis loop of a canary already runs; blue/green starts it with its window.
      return moved;
    }
    case 'promote': {
      if (release.state !== 'ramping' || release.canary === undefined) refuse(release, event);
      // A Promote moves one step from the step its message showed, never from a later one.
      if (event.fromStep !== undefined && event.fromStep !== release.canary.stepIndex) {
        throw new TransitionRefused(
          'illegal_transition',
          `${release.service} ${release.version} is already past the step this Promote was for: it is at ${release.canary.steps[release.canary.stepIndex] ?? 100} %.`,
        );
      }
      // Without evidence (asked for as Promote anyway, or clicked before the analysis passed) the
      // Promote is recorded as such, with who and what was missing.
      const missing =
        release.canary.withoutEvidence ??
        (release.analysis?.lastVerdict === 'pass'
          ? undefined
          : release.analysis?.lastFigures?.join('; ') || 'no analysis verdict yet');
      return nextStep(
        event.user,
        missing !== undefined ? `promoted anyway, without evidence (${missing})` : 'promoted',
      );
    }
    case 'pause':
      if (release.state !== 'ramping' && release.state !== 'observing') refuse(release, event);
      if (release.paused !== undefined) return { release, effects: [] };
      return {
        release: next(
          { paused: { by: event.user, reason: event.reason, at, revision: release.revision + 1 } },
          event.user,
          `paused: ${event.reason}`,
        ),
        effects: [],
      };
    case 'resume':
      if (
        (release.state !== 'ramping' && release.state !== 'observing') ||
        release.paused === undefined
      )
        refuse(release, event);
      return {
        release: next(
          {
            paused: undefined,
            analysis: release.analysis
              ? { ...release.analysis, breaches: 0, failedReads: 0 }
              : undefined,
            // The hold starts again, and so does any wait for Promote (with its deadline).
            ...(release.canary
              ? {
                  canary: {
                    ...release.canary,
                    stepStartedAt: at,
                    awaitingPromotion: false,
                    promptedAt: undefined,
                    withoutEvidence: undefined,
                  },
                }
              : {}),
          },
          event.user,
          'resumed',
        ),
        effects: [],
      };
    case 'analysis': {
      if (release.state !== 'ramping' && release.state !== 'observing') refuse(release, event);
      const previous = release.analysis ?? { checks: 0, breaches: 0 };
      const verdict = event.verdict;
      const breaches = verdict.verdict === 'breach' ? previous.breaches + 1 : 0;
      const failedReads = verdict.verdict === 'no_data' ? (previous.failedReads ?? 0) + 1 : 0;
      const figures =
        verdict.verdict === 'inconclusive' || verdict.verdict === 'no_data'
          ? [verdict.figure]
          : [...(verdict.figures ?? [])];
      const analysis = {
        checks: previous.checks + 1,
        breaches,
        failedReads,
        lastVerdict: verdict.verdict,
        lastFigures: figures,
        canary: event.canary,
        ...(event.baseline ? { baseline: event.baseline } : {}),
        ...(event.samples ? { samples: event.samples } : {}),
        // A reading without data adds nothing, and must not erase what was gathered so far.
        ...((event.evidence ?? previous.evidence) !== undefined
          ? { evidence: event.evidence ?? previous.evidence }
          : {}),
        ...(event.shadow ? { shadow: true } : {}),
        at,
      };
      const rollsBack =
        verdict.verdict === 'fail' ||
        (verdict.verdict === 'breach' && breaches >= event.breachLimit);
      if (event.shadow) {
        // Shadow mode acts on nothing; a verdict that would have acted is noted once per change.
        const would = rollsBack
          ? 'roll back'
          : verdict.verdict === 'no_data' && failedReads >= event.failedReadLimit
            ? 'pause'
            : undefined;
        if (would !== undefined && previous.lastVerdict !== verdict.verdict)
          return {
            release: next(
              { analysis },
              'greenlight',
              `shadow analysis would ${would}: ${figures.join(', ')}`,
            ),
            effects: [],
          };
        return { release: quietly({ analysis }), effects: [] };
      }
      if (rollsBack) {
        return {
          release: quietly({ analysis }),
          effects: [{ type: 'auto_rollback', reason: figures.join(', ') }],
        };
      }
      if (
        verdict.verdict === 'no_data' &&
        failedReads >= event.failedReadLimit &&
        release.paused === undefined
      ) {
        const reason = `no metrics for ${failedReads} readings in a row: ${verdict.figure}`;
        return {
          release: next(
            { analysis, paused: { by: 'greenlight', reason, at, revision: release.revision + 1 } },
            'greenlight',
            `paused: ${reason}`,
          ),
          effects: [],
        };
      }
      // Routine readings do not go in the timeline: the progress updates carry them.
      return { release: quietly({ analysis }), effects: [] };
    }
    case 'sampled': {
      if (release.state !== 'ramping' && release.state !== 'observing') refuse(release, event);
      const previous = release.analysis ?? { checks: 0, breaches: 0 };
      return {
        release: quietly({ analysis: { ...previous, samples: event.samples, at } }),
        effects: [],
      };
    }
    case 'expire': {
      if (release.state !== 'awaiting_approval') refuse(release, event);
      return {
        release: next({ state: 'cancelled', failure: event.reason }, 'greenlight', event.reason),
        effects: [{ type: 'free_service' }],
      };
    }
    case 'hold_passed': {
      if (release.state !== 'ramping' || release.canary === undefined) refuse(release, event);
      // Decided for a step the canary has left (a Promote landed meanwhile): nothing to do.
      if (release.canary.stepStartedAt !== event.stepStartedAt) return { release, effects: [] };
      // Evidence that arrives while Promote anyway is asked for turns it into a plain Promote.
      const late = release.canary.withoutEvidence !== undefined;
      if (release.paused !== undefined || (release.canary.awaitingPromotion && !late))
        return { release, effects: [] };
      const weight = release.canary.steps[release.canary.stepIndex] ?? 0;
      const ended =
        event.byTime !== undefined
          ? `hold time at ${weight} % ended (shadow analysis, verdict: ${event.byTime})`
          : `hold at ${weight} % passed`;
      if (event.autoPromote) return nextStep('greenlight', `${ended}: promoting`);
      return {
        release: next(
          {
            canary: {
              ...release.canary,
              awaitingPromotion: true,
              promptedAt: late ? (release.canary.promptedAt ?? at) : at,
              withoutEvidence: undefined,
            },
          },
          'greenlight',
          `${ended}: an approver clicks Promote to continue`,
        ),
        effects: [],
      };
    }
    case 'hold_inconclusive': {
      if (release.state !== 'ramping' || release.canary === undefined) refuse(release, event);
      if (
        release.paused !== undefined ||
        release.canary.awaitingPromotion ||
        release.canary.stepStartedAt !== event.stepStartedAt
      )
        return { release, effects: [] };
      const weight = release.canary.steps[release.canary.stepIndex] ?? 0;
      return {
        release: next(
          {
            canary: {
              ...release.canary,
              awaitingPromotion: true,
              promptedAt: at,
              withoutEvidence: event.missing,
            },
          },
          'greenlight',
          `hold at ${weight} % ended without evidence (${event.missing}): an approver clicks Promote anyway or Roll back`,
        ),
        effects: [],
      };
    }
    case 'observed':
      if (release.state !== 'observing' || release.paused !== undefined) refuse(release, event);
      return {
        release: next(
          { state: 'released' },
          'greenlight',
          event.byTime !== undefined
            ? `released: the stability window ended (shadow analysis, verdict: ${event.byTime}), so /sync ${release.service} is possible now`
            : event.verdict === undefined
              ? `released: the stability window passed, so /sync ${release.service} is possible now`
              : `released: the stability window ended, ${event.verdict}; /sync ${release.service} is possible now`,
        ),
        effects: [{ type: 'free_service' }],
      };
    case 'switch_failed':
      if (release.state !== 'switching') refuse(release, event);
      return {
        release: next(
          { state: 'failed', failure: event.reason },
          'greenlight',
          `switch failed: ${event.reason}`,
        ),
        // PRODUCTION never changed, so desired traffic is back on it: the reconciler restores it.
        effects: [{ type: 'free_service' }, { type: 'drive_traffic' }],
      };
    case 'switch_held': {
      // A canary's last step reached a closed calendar before traffic moved: it stays at the
      // step it had, like autoPromote holding, instead of losing the traffic it already carries.
      const canary = release.canary;
      if (release.state !== 'switching' || canary === undefined || canary.stepIndex <= 0)
        refuse(release, event);
      const held = canary.stepIndex - 1;
      return {
        release: next(
          {
            state: 'ramping',
            canary: {
              ...canary,
              stepIndex: held,
              awaitingPromotion: false,
              // The Promote that asked for the switch must not count again once the window opens.
              heldRevision: release.revision + 1,
            },
          },
          'greenlight',
          `held at ${canary.steps[held] ?? 0} %: ${event.reason}`,
        ),
        effects: [{ type: 'drive_traffic' }],
      };
    }
    case 'expire_approvals': {
      if (release.state !== 'awaiting_approval') refuse(release, event);
      const kept = release.approvals.filter((a) => a.at >= event.olderThan);
      const expired = release.approvals.filter((a) => a.at < event.olderThan);
      if (expired.length === 0) return { release, effects: [] };
      return {
        release: next(
          { approvals: kept },
          'greenlight',
          `approval${expired.length > 1 ? 's' : ''} expired: ${expired.map((a) => `${a.role} by <@${a.user}>`).join(', ')}`,
        ),
        effects: [],
      };
    }
    case 'void_approvals': {
      // Approvals were given for what STANDBY was; if it changed, they no longer hold. Once a
      // canary has taken traffic the release is past approving: a failed switch ends it instead.
      const untouched = release.canary === undefined || release.canary.stepIndex <= 0;
      if (release.state !== 'awaiting_approval' && !(release.state === 'switching' && untouched))
        refuse(release, event);
      return {
        release: next(
          {
            approvals: [],
            state: 'awaiting_approval',
            ...(release.canary ? { canary: { ...release.canary, stepIndex: -1 } } : {}),
          },
          'greenlight',
          `approvals voided: ${event.reason}`,
        ),
        effects: release.state === 'switching' ? [{ type: 'drive_traffic' }] : [],
      };
    }
    case 'rollback_requested':
      if (release.state !== 'released') refuse(release, event);
      return {
        release: next(
          { pendingRollback: { by: event.user, reason: event.reason, at } },
          event.user,
          `asked to roll back outside the rollback window: ${event.reason}`,
        ),
        effects: [],
      };
    case 'rollback': {
      // A deadline computed from an older revision (someone acted meanwhile) no longer holds.
      if (event.atRevision !== undefined && event.atRevision !== release.revision)
        return { release, effects: [] };
      const rollback = {
        by: event.user,
        reason: event.reason,
        at,
        ...(event.approvedBy ? { approvedBy: event.approvedBy } : {}),
      };
      if (release.state === 'awaiting_approval') {
        return {
          release: next(
            { state: 'cancelled', rollback },
            event.user,
            `cancelled before any traffic moved: ${event.reason}`,
          ),
          effects: [{ type: 'free_service' }],
        };
      }
      // rolling_back is accepted again so a rollback that failed half-way can be given once more.
      if (
        !['switching', 'ramping', 'observing', 'released', 'rolling_back'].includes(release.state)
      )
        refuse(release, event);
      return {
        // Each attempt gets its own deadline, a retry included.
        release: next(
          {
            state: 'rolling_back',
            stateSince: at,
            rollback,
            pendingRollback: undefined,
            failure: undefined,
          },
          event.approvedBy ?? event.user,
          event.approvedBy
            ? `approved the rollback asked by <@${event.user}>: ${event.reason}`
            : `rollback requested: ${event.reason}`,
        ),
        effects: [{ type: 'rollback_traffic' }],
      };
    }
    case 'rolled_back':
      if (release.state !== 'rolling_back' || release.rollback === undefined)
        refuse(release, event);
      return {
        release: next(
          { state: 'rolled_back', rollback: { ...release.rollback, path: event.path } },
          'greenlight',
          `traffic back on ${release.fromSlot} (${release.fromVersion})`,
        ),
        effects: [
          { type: 'production', slot: release.fromSlot },
          { type: 'free_service' },
          { type: 'report_rolled_back' },
        ],
      };
    case 'rollback_failed':
      if (release.state !== 'rolling_back') refuse(release, event);
      // Stays rolling_back: the service keeps its lock so nobody releases over a half-done rollback,
      // and /rollback can be given again.
      return {
        release: next({ failure: event.reason }, 'greenlight', `rollback failed: ${event.reason}`),
        effects: [],
      };
  }
}
