import {
  analysed,
  holdInconclusive,
  holdPassed,
  observed,
  sampled,
} from './analysis-transitions.ts';
import { approve, expire, expireApprovals, reject, voidApprovals } from './approval-transitions.ts';
import { checklistReminded, closeChecklist, tick } from './checklist-transitions.ts';
import { flagRampStarted, flagRampStepped, flagSet } from './flag-transitions.ts';
import type { Release } from './release.ts';
import type { ReleaseEvent } from './release-events.ts';
import { rollback, rollbackFailed, rollbackRequested, rolledBack } from './rollback-transitions.ts';
import {
  approveStep,
  intoSteps,
  resolveStep,
  stepFailed,
  stepFinished,
  stepInterrupted,
  stepStarted,
} from './step-transitions.ts';
import {
  pause,
  promote,
  resume,
  switched,
  switchFailed,
  switchHeld,
} from './switch-transitions.ts';
import { stepFor, type Transitioned } from './transition-step.ts';
import { userText } from './user-text.ts';

export type { RefusalCode, ReleaseEffect, ReleaseEvent } from './release-events.ts';
export { TransitionRefused } from './release-events.ts';

/**
 * The release state machine: pure, with time passed in. Every accepted event bumps the revision
 * (the store's compare-and-set uses it) and appends to the timeline. Each phase's events are
 * handled in a file of their own: approval, switch (and canary steps), analysis, rollback.
 */
export function transition(release: Release, given: ReleaseEvent, now: Date): Transitioned {
  // A reason a person typed is stored and shown under the user-text rule, whoever passed it in.
  const event: ReleaseEvent =
    'reason' in given &&
    typeof given.reason === 'string' &&
    'user' in given &&
    given.user !== 'greenlight'
      ? ({ ...given, reason: userText(given.reason) } as ReleaseEvent)
      : given;
  const step = stepFor(release, event, now);

  switch (event.type) {
    case 'approve':
      return intoSteps(approve(step, event), step.at);
    case 'reject':
      return reject(step, event);
    case 'expire':
      return expire(step, event);
    case 'expire_approvals':
      return expireApprovals(step, event);
    case 'void_approvals':
      return voidApprovals(step, event);
    case 'switched':
      return switched(step, event);
    case 'promote':
      return promote(step, event);
    case 'pause':
      return pause(step, event);
    case 'resume':
      return resume(step, event);
    case 'switch_failed':
      return switchFailed(step, event);
    case 'switch_held':
      return switchHeld(step, event);
    case 'analysis':
      return analysed(step, event);
    case 'sampled':
      return sampled(step, event);
    case 'hold_passed':
      return holdPassed(step, event);
    case 'hold_inconclusive':
      return holdInconclusive(step, event);
    case 'observed':
      return observed(step, event);
    case 'rollback_requested':
      return rollbackRequested(step, event);
    case 'rollback':
      return rollback(step, event);
    case 'rolled_back':
      return rolledBack(step, event);
    case 'rollback_failed':
      return rollbackFailed(step, event);
    case 'approve_step':
      return approveStep(step, event);
    case 'step_started':
      return stepStarted(step, event);
    case 'step_finished':
      return stepFinished(step, event);
    case 'step_failed':
      return stepFailed(step, event);
    case 'step_interrupted':
      return stepInterrupted(step, event);
    case 'resolve_step':
      return resolveStep(step, event);
    case 'tick':
      return tick(step, event);
    case 'close_checklist':
      return closeChecklist(step, event);
    case 'flag_set':
      return flagSet(step, event);
    case 'flag_ramp':
      return flagRampStarted(step, event);
    case 'flag_ramp_step':
      return flagRampStepped(step, event);
    case 'checklist_reminded':
      return checklistReminded(step, event);
  }
}
