import type { AnalysisReading, Verdict } from './analysis.ts';
import { missingRoles, type Release, type ReleaseState } from './release.ts';

/** Something that happened to a release: a click, a command, or a step's outcome. */
export type ReleaseEvent =
  | { type: 'approve'; user: string; roles: readonly string[] }
  | { type: 'reject'; user: string; reason?: string }
  | { type: 'switched'; observeUntil?: string }
  | { type: 'step_reached'; stepIndex: number; observeUntil?: string }
  | { type: 'promote'; user: string }
  | { type: 'pause'; user: string; reason: string }
  | { type: 'resume'; user: string }
  | {
      type: 'analysis';
      canary: AnalysisReading;
      baseline?: AnalysisReading;
      verdict: Verdict;
      breachLimit: number;
    }
  | { type: 'hold_passed'; autoPromote: boolean }
  | { type: 'observed' }
  | { type: 'switch_failed'; reason: string }
  | { type: 'rollback'; user: string; reason: string; approvedBy?: string }
  | { type: 'rollback_requested'; user: string; reason: string }
  | { type: 'expire_approvals'; olderThan: string }
  | { type: 'void_approvals'; reason: string }
  | { type: 'rolled_back'; path: 'switch' | 'redeploy' }
  | { type: 'rollback_failed'; reason: string };

/** What the use case must do after a transition; the machine decides, it never acts. */
export type ReleaseEffect =
  | { type: 'switch_traffic' }
  | { type: 'restore_traffic' }
  | { type: 'free_service' }
  | { type: 'report_released' }
  | { type: 'start_analysis' }
  | { type: 'advance'; to: number }
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

const ENDED: readonly ReleaseState[] = [
  'released',
  'rejected',
  'cancelled',
  'failed',
  'rolled_back',
];

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
  const code = ENDED.includes(release.state) ? 'release_ended' : 'illegal_transition';
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
  event: ReleaseEvent,
  now: Date,
): { release: Release; effects: ReleaseEffect[] } {
  const at = now.toISOString();
  const next = (changes: Partial<Release>, who: string, what: string): Release => ({
    ...release,
    ...changes,
    timeline: [...release.timeline, { at, who, what }],
    updatedAt: at,
    revision: release.revision + 1,
  });

  /** Traffic is fully on the new slot: observe for the stability window, or done at once. */
  const trafficMoved = (
    observeUntil: string | undefined,
    what: string,
  ): { release: Release; effects: ReleaseEffect[] } =>
    observeUntil !== undefined
      ? {
          release: next(
            { state: 'observing' as const, releasedAt: at, observeUntil },
            'greenlight',
            what,
          ),
          effects: [{ type: 'report_released' as const }, { type: 'start_analysis' as const }],
        }
      : {
          release: next({ state: 'released' as const, releasedAt: at }, 'greenlight', what),
          effects: [{ type: 'free_service' as const }, { type: 'report_released' as const }],
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
      const updated = next(
        { approvals, ...(approved ? { state: 'switching' as const } : {}) },
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
    case 'switched':
      if (release.state !== 'switching') refuse(release, event);
      return trafficMoved(
        event.observeUntil,
        `traffic switched ${release.fromSlot} → ${release.toSlot}`,
      );
    case 'step_reached': {
      if (release.state !== 'switching' && release.state !== 'ramping') refuse(release, event);
      const steps = release.canary?.steps ?? [100];
      const weight = steps[event.stepIndex] ?? 100;
      if (weight >= 100) {
        const moved = trafficMoved(event.observeUntil, `${release.toSlot} takes 100 % of traffic`);
        const { paused: _paused, ...rest } = moved.release;
        return {
          release: { ...rest, canary: { steps, stepIndex: event.stepIndex, stepStartedAt: at } },
          // From ramping the analysis loop already runs; from switching it starts now.
          effects:
            release.state === 'switching'
              ? moved.effects.some((e) => e.type === 'start_analysis')
                ? moved.effects
                : [...moved.effects, { type: 'start_analysis' }]
              : moved.effects.filter((e) => e.type !== 'start_analysis'),
        };
      }
      return {
        release: next(
          {
            state: 'ramping',
            canary: { steps, stepIndex: event.stepIndex, stepStartedAt: at },
            paused: undefined,
          },
          'greenlight',
          `canary at ${weight} %: ${release.toSlot} ${weight} %, ${release.fromSlot} ${100 - weight} %`,
        ),
        effects: release.state === 'switching' ? [{ type: 'start_analysis' }] : [],
      };
    }
    case 'promote': {
      if (release.state !== 'ramping' || release.canary === undefined) refuse(release, event);
      const to = release.canary.stepIndex + 1;
      return {
        release: next(
          { canary: { ...release.canary, awaitingPromotion: false }, paused: undefined },
          event.user,
          `promoted to ${release.canary.steps[to] ?? 100} %`,
        ),
        effects: [{ type: 'advance', to }],
      };
    }
    case 'pause':
      if (release.state !== 'ramping' && release.state !== 'observing') refuse(release, event);
      if (release.paused !== undefined) return { release, effects: [] };
      return {
        release: next(
          { paused: { by: event.user, reason: event.reason, at } },
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
            analysis: release.analysis ? { ...release.analysis, breaches: 0 } : undefined,
            ...(release.canary ? { canary: { ...release.canary, stepStartedAt: at } } : {}),
          },
          event.user,
          'resumed',
        ),
        effects: [],
      };
    case 'analysis': {
      if (release.state !== 'ramping' && release.state !== 'observing') refuse(release, event);
      const previous = release.analysis ?? { checks: 0, breaches: 0 };
      const breaches = event.verdict.verdict === 'breach' ? previous.breaches + 1 : 0;
      const figures =
        event.verdict.verdict === 'breach'
          ? event.verdict.figures
          : event.verdict.verdict === 'inconclusive'
            ? [event.verdict.figure]
            : [];
      const analysis = {
        checks: previous.checks + 1,
        breaches,
        lastVerdict: event.verdict.verdict,
        lastFigures: figures,
        canary: event.canary,
        ...(event.baseline ? { baseline: event.baseline } : {}),
      };
      if (event.verdict.verdict === 'breach' && breaches >= event.breachLimit) {
        return {
          release: { ...release, analysis, updatedAt: at, revision: release.revision + 1 },
          effects: [{ type: 'auto_rollback', reason: figures.join(', ') }],
        };
      }
      if (event.verdict.verdict === 'inconclusive' && release.paused === undefined) {
        return {
          release: next(
            {
              analysis,
              paused: { by: 'greenlight', reason: `inconclusive: ${figures.join(', ')}`, at },
            },
            'greenlight',
            `paused, analysis inconclusive: ${figures.join(', ')}`,
          ),
          effects: [],
        };
      }
      // Routine readings do not go in the timeline: the progress updates carry them.
      return {
        release: { ...release, analysis, updatedAt: at, revision: release.revision + 1 },
        effects: [],
      };
    }
    case 'hold_passed': {
      if (release.state !== 'ramping' || release.canary === undefined) refuse(release, event);
      if (release.paused !== undefined || release.canary.awaitingPromotion)
        return { release, effects: [] };
      const weight = release.canary.steps[release.canary.stepIndex] ?? 0;
      if (event.autoPromote) {
        return {
          release: next({}, 'greenlight', `hold at ${weight} % passed: promoting`),
          effects: [{ type: 'advance', to: release.canary.stepIndex + 1 }],
        };
      }
      return {
        release: next(
          { canary: { ...release.canary, awaitingPromotion: true } },
          'greenlight',
          `hold at ${weight} % passed: an approver clicks Promote to continue`,
        ),
        effects: [],
      };
    }
    case 'observed':
      if (release.state !== 'observing' || release.paused !== undefined) refuse(release, event);
      return {
        release: next({ state: 'released' }, 'greenlight', 'stability window passed'),
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
        effects: [{ type: 'free_service' }],
      };
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
    case 'void_approvals':
      // Approvals were given for what STANDBY was; if it changed, they no longer hold.
      if (release.state !== 'awaiting_approval' && release.state !== 'switching')
        refuse(release, event);
      return {
        release: next(
          { approvals: [], state: 'awaiting_approval' },
          'greenlight',
          `approvals voided: ${event.reason}`,
        ),
        effects: [],
      };
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
        release: next(
          { state: 'rolling_back', rollback, pendingRollback: undefined },
          event.approvedBy ?? event.user,
          event.approvedBy
            ? `approved the rollback asked by <@${event.user}>: ${event.reason}`
            : `rollback requested: ${event.reason}`,
        ),
        effects: [{ type: 'restore_traffic' }],
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
        effects: [{ type: 'free_service' }, { type: 'report_rolled_back' }],
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
