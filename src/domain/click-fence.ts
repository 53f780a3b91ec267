import { awaitsApproval, awaitsWord, currentStep, stepStage } from './pre-switch-steps.ts';
import { ENDED_STATES, type Release } from './release.ts';

/** The buttons on a release message. */
export type ReleaseButton =
  | 'approve'
  | 'reject'
  | 'rollback'
  | 'approve_rollback'
  | 'promote'
  | 'pause'
  | 'resume'
  | 'abort'
  /** An irreversible pre-switch step's own approval. */
  | 'approve_step'
  /** A person's word on an irreversible step that was cut off: it completed, or it did not. */
  | 'step_completed'
  | 'step_not_completed';

/**
 * The stage a message was drawn at: the state, and for a canary the step. A button carries it,
 * so a click can be checked against what is true when it arrives (Slack delivers late, twice,
 * and from old messages). Routine analysis readings do not change it.
 */
export function stageOf(release: Release): string {
  // A Promote asked for without evidence ("Promote anyway") is a stage of its own: a plain
  // Promote drawn before it cannot count as one, and the other way round.
  if (release.state === 'running_steps') return stepStage(release).replace(/\.r\d+$/, '');
  const step = release.canary
    ? `.${release.canary.stepIndex}${release.canary.heldRevision !== undefined ? `.h${release.canary.heldRevision}` : ''}${release.canary.withoutEvidence !== undefined ? '.a' : ''}`
    : '';
  // Each pause is its own stage, so a click drawn before a pause (or during an earlier one)
  // cannot promote past it or lift it.
  const paused = release.paused
    ? `.p${release.paused.revision ?? Math.floor(Date.parse(release.paused.at) / 1000)}`
    : '';
  return `${release.state}${step}${paused}`;
}

/** The value of a step's approval button: its step and the exact revision it was drawn at. */
export function stepFenceValue(release: Release): string {
  return `${release.id}:${stepStage(release)}`;
}

/** A button value: the release and the stage it was drawn for. */
export function fenceValue(release: Release): string {
  return `${release.id}:${stageOf(release)}`;
}

export function parseFenceValue(value: string): { releaseId: string; stage?: string } {
  const at = value.indexOf(':');
  if (at < 0) return { releaseId: value };
  return { releaseId: value.slice(0, at), stage: value.slice(at + 1) };
}

const stateOfStage = (stage: string) => stage.split('.')[0] ?? '';

/** The pause a stage was drawn during, if any (`p<seconds>`). */
const pauseOfStage = (stage: string | undefined) =>
  stage?.split('.').find((part) => /^p\d+$/.test(part));

/** The canary step a stage names, if any. */
export function stepOfStage(stage: string | undefined): number | undefined {
  const step = stage?.split('.')[1];
  return step === undefined || !/^-?\d+$/.test(step) ? undefined : Number(step);
}

/**
 * Why a click drawn at `drawn` no longer fits the release, or undefined when it does:
 * - Approve and Reject only while the release waits for its decision;
 * - Promote only from exactly the step the message showed (a double click advances once);
 * - Pause and Resume while the release is still in the phase they were drawn in;
 * - Rollback, Abort and Approve rollback whenever their release is not over: whether it is
 *   still the live one is the use case's check, against the service.
 * A click without a stage (a message drawn before fencing) counts as stale for every button
 * that moves traffic forward.
 */
export function staleClick(
  button: ReleaseButton,
  drawn: string | undefined,
  release: Release,
): string | undefined {
  const now = stageOf(release);
  const describe = () => `${release.service} ${release.version} ${releasePhrase(release)}`;
  const rollsBack = button === 'rollback' || button === 'abort' || button === 'approve_rollback';
  if (ENDED_STATES.includes(release.state) && !rollsBack) {
    return `${describe()}: this message is out of date.`;
  }
  switch (button) {
    case 'approve':
    case 'reject':
      if (
        release.state !== 'awaiting_approval' ||
        drawn === undefined ||
        stateOfStage(drawn) !== 'awaiting_approval'
      )
        return `${describe()}: it no longer waits for a decision.`;
      return undefined;
    case 'promote':
      if (release.state !== 'ramping') return `${describe()}: there is no canary step to promote.`;
      if (drawn !== now) return `${describe()}: this message showed an earlier step.`;
      return undefined;
    case 'pause':
    case 'resume':
      if (release.state !== 'ramping' && release.state !== 'observing')
        return `${describe()}: there is nothing to ${button} now.`;
      if (drawn === undefined || stateOfStage(drawn) !== release.state)
        return `${describe()}: this message is out of date.`;
      // Resume lifts only the pause its message showed; Pause from a message drawn during a
      // pause that has ended is out of date too.
      if (pauseOfStage(drawn) !== pauseOfStage(now))
        return `${describe()}: this message showed ${pauseOfStage(drawn) ? 'an earlier pause' : 'it running'}.`;
      return undefined;
    case 'rollback':
    case 'abort':
      // Already rolling back: a second click (a double click, a lagging message) adds nothing;
      // only a message drawn after a failed rollback asks for another attempt.
      if (release.state === 'rolling_back' && !(release.failure !== undefined && drawn === now))
        return `${describe()}: the rollback is already under way.`;
      return undefined;
    case 'approve_rollback':
      return undefined;
    case 'approve_step': {
      const step = currentStep(release);
      if (release.state !== 'running_steps' || step === undefined || !awaitsApproval(step))
        return `${describe()}: no step waits for approval now.`;
      // Drawn for this step at this revision: a click from before (another step, a retry after
      // a restart) cannot approve what it did not show.
      if (drawn !== stepStage(release)) return `${describe()}: this message showed another step.`;
      return undefined;
    }
    case 'step_completed':
    case 'step_not_completed': {
      const step = currentStep(release);
      if (release.state !== 'running_steps' || step === undefined || !awaitsWord(step))
        return `${describe()}: no step waits for anyone's word now.`;
      if (drawn !== stepStage(release)) return `${describe()}: this message showed another step.`;
      return undefined;
    }
  }
}

/** Where a release stands, as a clause: `is waiting for approval`, `was rolled back`. */
export function releasePhrase(release: Release): string {
  switch (release.state) {
    case 'awaiting_approval':
      return 'is waiting for approval';
    case 'running_steps':
      return `is running its steps before the switch (${currentStep(release)?.name ?? 'none left'})`;
    case 'switching':
      return 'is switching traffic now';
    case 'ramping':
      return `is at ${release.canary?.steps[release.canary.stepIndex] ?? 0} %${release.paused ? ', paused' : ''}`;
    case 'observing':
      return `is live and in its stability window${release.paused ? ', paused' : ''}`;
    case 'released':
      return 'was released and is live';
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
