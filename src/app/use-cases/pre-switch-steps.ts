import { releaseDeadline } from '../../domain/deadlines.ts';
import {
  awaitsApproval,
  awaitsWord,
  compensationText,
  currentStep,
  currentStepIndex,
} from '../../domain/pre-switch-steps.ts';
import type { Release } from '../../domain/release.ts';
import type { Answer } from '../answer.ts';
import { type EventPorts, serviceConfig, type Uses } from '../app-deps.ts';
import { deadlineRules } from '../deadline-rules.ts';
import type { DeployOutcome } from '../ports.ts';
import { closedFor } from '../release-calendar.ts';
import { ReleaseError } from '../release-error.ts';
import { runEvent } from '../release-runner.ts';

const STEP_LOCK_TTL_MS = 10_000;

/**
 * Past its deadline a step's wait for a person is over, whether or not the sweeper got to it
 * yet: the release fails, and the late click is told why (`outcome`) and what to do (`hint`).
 */
async function failIfOverdue(
  deps: Uses<EventPorts | 'comms'>,
  release: Release,
  index: number,
  outcome: string,
  hint: string,
): Promise<void> {
  const deadline = releaseDeadline(release, deadlineRules(serviceConfig(deps, release.service)));
  if (deadline === undefined || deps.clock.now().getTime() < deadline.at) return;
  await runEvent(deps, release.id, { type: 'step_failed', index, reason: deadline.reason });
  throw new ReleaseError(
    'not_available',
    `${release.service} ${release.version}: ${deadline.reason}, ${outcome}`,
    hint,
  );
}

/** An irreversible step's own approval: a member of its approver role, never the requester. */
export async function approveStep(
  deps: Uses<EventPorts | 'comms' | 'directory'>,
  request: { releaseId: string; user: string },
): Promise<Answer> {
  const release = await deps.store.getRelease(request.releaseId);
  const index = release ? currentStepIndex(release) : undefined;
  const step = release ? currentStep(release) : undefined;
  if (release === null || index === undefined || step === undefined)
    throw new ReleaseError('stale', 'No step waits for approval now.', 'See /release status.');
  // A late click must not run what cannot be undone on approvals that no longer hold.
  if (awaitsApproval(step))
    await failIfOverdue(
      deps,
      release,
      index,
      `so ${step.name} did not run and traffic never moved.`,
      `Request it again: /release ${release.service}`,
    );
  // The switch that follows would be refused: nothing irreversible runs for a release that
  // cannot go out now.
  const closed = closedFor(deps, release);
  if (closed !== undefined)
    throw new ReleaseError(
      'frozen',
      `${closed}: ${step.name} cannot be undone, and the switch after it could not run now.`,
      `Approve ${step.name} once the calendar opens (the step waits until its deadline), or /rollback ${release.service} to cancel.`,
    );
  await runEvent(deps, release.id, {
    type: 'approve_step',
    user: request.user,
    roles: await stepRoles(deps, step.approverRole, request.user),
    index,
  });
  return {
    message: `You approved ${step.name} for ${release.service} ${release.version}; it runs now and cannot be undone.`,
    hint: 'Traffic moves once every step before the switch has finished; the thread says when.',
  };
}

/** The step's approver role, when `user` is a member of it (user groups resolved). */
async function stepRoles(
  deps: Uses<'config' | 'directory'>,
  role: string | undefined,
  user: string,
): Promise<string[]> {
  if (role === undefined) return [];
  const members = await deps.directory.members(deps.config.roles[role] ?? []);
  return members.includes(user) ? [role] : [];
}

/**
 * A person's word on an irreversible step that was cut off while it ran (Greenlight never runs
 * it twice): it completed, and the release goes on, or it did not, and the release fails before
 * any traffic moves. Its approver role decides, never the requester.
 */
export async function resolveInterruptedStep(
  deps: Uses<EventPorts | 'comms' | 'directory'>,
  request: { releaseId: string; user: string; completed: boolean },
): Promise<Answer> {
  const release = await deps.store.getRelease(request.releaseId);
  const index = release ? currentStepIndex(release) : undefined;
  const step = release ? currentStep(release) : undefined;
  if (
    release?.state !== 'running_steps' ||
    index === undefined ||
    step === undefined ||
    !awaitsWord(step)
  )
    throw new ReleaseError('stale', "No step waits for anyone's word now.", 'See /release status.');
  await failIfOverdue(
    deps,
    release,
    index,
    'so the release failed and traffic never moved.',
    `Check ${step.name} by hand, then /release ${release.service} again.`,
  );
  // What would run next (a step, or the switch) would be refused now; a next step that waits for
  // its own approval runs nothing yet, and that approval checks the calendar itself.
  const following = release.steps?.[index + 1];
  const runsNext = following === undefined || !awaitsApproval(following);
  const closed = request.completed && runsNext ? closedFor(deps, release) : undefined;
  if (closed !== undefined)
    throw new ReleaseError(
      'frozen',
      `${closed}: the release cannot go on now.`,
      `Say so once the calendar opens (the step waits until its deadline), or /rollback ${release.service} to cancel.`,
    );
  await runEvent(deps, release.id, {
    type: 'resolve_step',
    user: request.user,
    roles: await stepRoles(deps, step.approverRole, request.user),
    index,
    completed: request.completed,
  });
  return request.completed
    ? {
        message: `You checked that ${step.name} completed: ${release.service} ${release.version} goes on from the next step (it is not run again).`,
        hint: 'The thread says when traffic moves.',
      }
    : {
        message: `You checked that ${step.name} did not complete: ${release.service} ${release.version} failed before any traffic moved. The data layer may still need the runbook: ${compensationText([step])}.`,
        hint: `Fix the cause, then /release ${release.service} again.`,
      };
}

/**
 * The worker step of a pre-switch step (a migration), run like a deploy. "Started" is recorded
 * before the command runs: a step found started and never finished was cut off by a crash or a
 * restart, and an irreversible one is then never run again by itself; it waits for its approver
 * role to say whether it completed. A reversible one simply runs again. One run at a time per service (a lock), so
 * a re-delivery while it runs does nothing.
 */
export async function runPreSwitchStep(
  deps: Uses<EventPorts | 'comms' | 'isStopping' | 'locks' | 'stepRunner'>,
  job: { releaseId: string; index: number },
): Promise<void> {
  // A second delivery while the step runs waits briefly, then fails its attempt and is retried
  // with backoff: after a crash the dead holder's lock expires and a retry finds the step
  // started and never finished.
  const first = await deps.store.getRelease(job.releaseId);
  if (first === null) return;
  // Per service, not per release: a release cancelled while its step runs frees the service, and
  // the next release's step must not run beside the one still going.
  await deps.locks.withLock(
    `pre-switch-${first.service}`,
    STEP_LOCK_TTL_MS,
    () => runLocked(deps, job),
    { waitMs: 1000 },
  );
}

async function runLocked(
  deps: Uses<EventPorts | 'comms' | 'isStopping' | 'stepRunner'>,
  job: { releaseId: string; index: number },
) {
  const release = await deps.store.getRelease(job.releaseId);
  if (release === null || release.state !== 'running_steps') return;
  const step = currentStep(release);
  if (currentStepIndex(release) !== job.index || step === undefined) return;
  const event = (type: 'step_started' | 'step_finished') => ({ type, index: job.index });
  let outcome: DeployOutcome | undefined;
  try {
    if (awaitsWord(step)) return;
    if (step.startedAt !== undefined && !step.reversible) {
      // Cut off while it ran: never run twice; its approver role says whether it completed.
      await runEvent(deps, release.id, { type: 'step_interrupted', index: job.index });
      return;
    }
    if (awaitsApproval(step)) return;
    await runEvent(deps, release.id, event('step_started'));
    outcome = deps.stepRunner
      ? await deps.stepRunner.run({
          service: release.service,
          step: step.name,
          version: release.version,
          slot: release.toSlot,
          releaseId: release.id,
        })
      : { ok: false as const, reason: 'no step runner in this process', outputTail: '' };
    if (!outcome.ok && deps.isStopping?.()) {
      // Killed because Greenlight is stopping, not because the step failed: left started and
      // unfinished, so its re-delivery runs a reversible step again and reports an irreversible
      // one as interrupted.
      throw new Error(`Greenlight stopped while step ${step.name} ran`);
    }
    if (outcome.ok) {
      await runEvent(deps, release.id, event('step_finished'));
      return;
    }
    const tail = outcome.outputTail.trim().split('\n').slice(-3).join(' / ');
    await runEvent(deps, release.id, {
      type: 'step_failed',
      index: job.index,
      reason: `${outcome.reason}${tail ? ` (last output: ${tail})` : ''}`,
    });
  } catch (error) {
    // Cancelled by /rollback meanwhile: the release says what happened.
    if (error instanceof ReleaseError) {
      deps.log.info({ releaseId: release.id, err: error }, 'pre-switch step outcome not recorded');
      // Whoever cancelled was told the step goes on: how it ended decides the runbook.
      if (outcome !== undefined)
        await deps.notifier.releaseNote(
          release,
          `step-${job.index}-after-cancel-${Date.parse(step.readyAt ?? release.updatedAt)}`,
          `${step.name} ${outcome.ok ? 'finished' : `failed (${outcome.reason})`} after the release was cancelled; traffic never moved.${step.reversible ? '' : ` It cannot be undone: ${compensationText([step])}.`}`,
        );
      return;
    }
    throw error;
  }
}
