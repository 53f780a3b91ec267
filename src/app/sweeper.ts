import { operationDeadline, releaseDeadline } from '../domain/deadlines.ts';
import { awaitsWord, currentStep, currentStepIndex } from '../domain/pre-switch-steps.ts';
import { ACTIVE_STATES, type Release, rollbackAttempt } from '../domain/release.ts';
import { type ServiceState, standbyOf, withSlot } from '../domain/service-state.ts';
import { audit, type EventPorts, type ServicePorts, serviceConfig, type Uses } from './app-deps.ts';
import { closeChecklists } from './checklist-sweep.ts';
import { deadlineRules } from './deadline-rules.ts';
import type { StepJob } from './ports.ts';
import { preSwitchJob } from './pre-switch-job.ts';
import { ReleaseError } from './release-error.ts';
import { runEvent } from './release-runner.ts';
import { updateService } from './service-access.ts';

/**
 * Deadlines and lost jobs, for one service: level-triggered like the reconciler. Every active
 * release or operation either has the job that moves it on, or gets it again, or ends with a
 * reason when its deadline passed. Returns what it did, in words (for logs and tests).
 */
export async function sweepService(
  deps: Uses<EventPorts | 'comms'>,
  service: string,
): Promise<string[]> {
  const done: string[] = [];
  const state = await deps.store.getService(service);
  if (state === null) return done;
  await sweepOperation(deps, state, done);
  const release = state.lastReleaseId ? await deps.store.getRelease(state.lastReleaseId) : null;
  if (release !== null) {
    try {
      await sweepRelease(deps, state, release, done);
    } catch (error) {
      // A click or step got there first: the next sweep sees the new state.
      if (!(error instanceof ReleaseError)) throw error;
    }
  }
  done.push(...(await closeChecklists(deps, service)));
  // An operation that names a release which has ended (or vanished) holds nothing any more.
  const op = state.operation;
  if (op?.releaseId !== undefined && (op.kind === 'release' || op.kind === 'rollback')) {
    const held = op.releaseId === release?.id ? release : await deps.store.getRelease(op.releaseId);
    if (held === null || !ACTIVE_STATES.includes(held.state)) {
      await freeOperation(deps, service, op.id);
      done.push(`freed ${service} from ${op.kind} ${op.releaseId} (${held?.state ?? 'missing'})`);
    }
  }
  return done;
}

async function sweepRelease(
  deps: Uses<EventPorts | 'comms'>,
  state: ServiceState,
  release: Release,
  done: string[],
): Promise<void> {
  if (!ACTIVE_STATES.includes(release.state)) return;
  const config = serviceConfig(deps, release.service);
  const now = deps.clock.now().getTime();
  const deadline = releaseDeadline(release, deadlineRules(config));
  const step = stepOf(release);
  const stepState = step ? await deps.scheduler.jobState(step) : undefined;

  if (deadline !== undefined && now >= deadline.at) {
    switch (deadline.action) {
      case 'expire':
        await runEvent(deps, release.id, { type: 'expire', reason: deadline.reason });
        done.push(`expired ${release.id}`);
        return;
      case 'fail_switch':
        await runEvent(deps, release.id, { type: 'switch_failed', reason: deadline.reason });
        done.push(`failed the switch of ${release.id}`);
        return;
      case 'roll_back':
        await runEvent(deps, release.id, {
          type: 'rollback',
          user: 'greenlight',
          reason: deadline.reason,
          // The deadline was read from this revision: a Promote or Resume that commits first wins.
          atRevision: release.revision,
        });
        done.push(`rolled back ${release.id}: ${deadline.reason}`);
        return;
      case 'fail_steps':
        await runEvent(deps, release.id, {
          type: 'step_failed',
          index: currentStepIndex(release) ?? 0,
          reason: deadline.reason,
        });
        done.push(`failed the steps of ${release.id}: ${deadline.reason}`);
        return;
      case 'retry_rollback':
        if (stepState === 'pending') break;
        await runEvent(deps, release.id, {
          type: 'rollback',
          user: release.rollback?.by ?? 'greenlight',
          reason: release.rollback?.reason ?? deadline.reason,
          ...(release.rollback?.approvedBy ? { approvedBy: release.rollback.approvedBy } : {}),
        });
        done.push(`retried the rollback of ${release.id}`);
        return;
    }
  }
  if (deadline?.remindAt !== undefined && now >= deadline.remindAt) {
    await deps.notifier.releaseNote(
      release,
      `reminder-${release.state}-${Date.parse(release.stateSince ?? release.createdAt)}-${Date.parse(release.paused?.at ?? release.canary?.promptedAt ?? currentStep(release)?.readyAt ?? '') || 0}`,
      `⏰ Still waiting: ${describeWait(release)}. If nobody acts by ${new Date(deadline.at).toISOString().slice(11, 16)} UTC, it ${deadline.action === 'expire' ? 'expires and the service is freed' : deadline.action === 'fail_steps' ? 'fails before any traffic moves' : 'rolls back'}.`,
    );
  }
  if (step !== undefined) {
    if (stepState === 'missing') {
      await deps.scheduler.enqueue(step);
      done.push(`re-enqueued the ${step.step} step of ${release.id}`);
    } else if (
      stepState === 'failed' &&
      release.state === 'running_steps' &&
      // A step still running elsewhere (its retries gave up on the lock) ends by its deadline.
      currentStep(release)?.startedAt === undefined
    ) {
      await runEvent(deps, release.id, {
        type: 'step_failed',
        index: currentStepIndex(release) ?? 0,
        reason: `its job gave up after its retries: a step of an earlier release of ${release.service} may still be running (see its thread), or the worker logs say why`,
      });
      done.push(`failed the steps of ${release.id}: the job gave up`);
    } else if (stepState === 'failed' && release.state === 'switching') {
      await runEvent(deps, release.id, {
        type: 'switch_failed',
        reason: 'the switch step gave up after its retries',
      });
      done.push(`failed the switch of ${release.id}: its job gave up`);
    }
  }
  if (release.state === 'ramping' || release.state === 'observing') {
    const everyMs = config.analysis.intervalSeconds * 1000;
    // A schedule can exist and still have lost its next job: a reading overdue by three
    // intervals (and a few seconds) means the loop is dead, so it is started afresh.
    const last = Date.parse(release.analysis?.at ?? release.stateSince ?? release.updatedAt);
    if (now - last > 3 * everyMs + 5_000) {
      await deps.scheduler.stopAnalysis(release.id);
      done.push(`restarted the analysis of ${release.id}`);
    }
    await deps.scheduler.startAnalysis(release.id, everyMs);
  }
  if (release.state !== 'rolling_back')
    await deps.scheduler.startProgress(release.id, config.progressIntervalMinutes * 60_000);
  // Keeps the service held by its active release, whatever a lost write left behind.
  if (state.operation === null) {
    await holdFor(deps, state, release);
    done.push(`${release.service} held again for ${release.id}`);
  }
}

/** The step a release's state is waiting on, if it waits on one. */
function stepOf(release: Release): StepJob | undefined {
  if (release.state === 'switching')
    return { step: 'switch', releaseId: release.id, revision: release.revision };
  if (release.state === 'rolling_back' && release.failure === undefined)
    return { step: 'rollback', releaseId: release.id, attempt: rollbackAttempt(release) };
  return preSwitchJob(release);
}

function describeWait(release: Release): string {
  if (release.state === 'awaiting_approval')
    return `${release.service} ${release.version} needs approval`;
  if (release.state === 'running_steps') {
    const step = currentStep(release);
    return step && awaitsWord(step)
      ? `${release.service} ${release.version} needs someone in ${step.approverRole} to say whether ${step.name} completed (it was cut off while it ran)`
      : `${release.service} ${release.version} needs approval to run ${step?.name} (it cannot be undone)`;
  }
  if (release.paused)
    return `${release.service} ${release.version} is paused (${release.paused.reason})`;
  return `${release.service} ${release.version} waits for Promote`;
}

async function holdFor(deps: Uses<'store'>, state: ServiceState, release: Release): Promise<void> {
  const next: ServiceState = {
    ...state,
    operation: {
      id: release.id,
      kind: release.state === 'rolling_back' ? 'rollback' : 'release',
      by: release.requester,
      startedAt: release.createdAt,
      version: release.version,
      releaseId: release.id,
    },
    revision: state.revision + 1,
  };
  await deps.store.commit({ service: { next, expected: state.revision } });
}

async function freeOperation(
  deps: Uses<ServicePorts>,
  service: string,
  opId: string,
): Promise<void> {
  await updateService(
    deps,
    service,
    (state) => (state.operation?.id === opId ? { ...state, operation: null } : null),
    { adopt: false },
  );
}

/** A /bump or /sync: its deploy job must exist, and it ends by its deadline. */
async function sweepOperation(
  deps: Uses<'audit' | 'clock' | 'config' | 'log' | 'notifier' | 'scheduler' | 'store'>,
  state: ServiceState,
  done: string[],
): Promise<void> {
  const op = state.operation;
  if (op === null || (op.kind !== 'bump' && op.kind !== 'sync')) return;
  const config = serviceConfig(deps, state.service);
  const deadline = operationDeadline(op, {
    deployTimeoutSeconds: config.deploy.timeoutSeconds,
    readyTimeoutSeconds: config.health.readyTimeoutSeconds,
  });
  const job: StepJob = { step: 'deploy', service: state.service, operationId: op.id };
  const jobState = await deps.scheduler.jobState(job);
  const overdue = deadline !== undefined && deps.clock.now().getTime() >= deadline;
  if (!overdue && jobState === 'missing') {
    await deps.scheduler.enqueue(job);
    done.push(`re-enqueued the deploy of ${op.id}`);
    return;
  }
  if (!overdue && jobState !== 'failed' && jobState !== 'done') return;
  const reason = overdue
    ? `the ${op.kind} did not finish in time (deploy timeout, readiness wait and a margin)`
    : `the ${op.kind}'s deploy step gave up`;
  const slot = standbyOf(state);
  const next: ServiceState = {
    ...withSlot(state, slot, { version: null, health: 'failed', note: reason }, deps.clock.now()),
    operation: null,
    revision: state.revision + 1,
  };
  if (!(await deps.store.commit({ service: { next, expected: state.revision } }))) return;
  await audit(deps, {
    who: 'greenlight',
    what: `${op.kind} ${op.version} ended: ${reason}`,
    service: state.service,
    before: { operation: op },
    after: { operation: null, slot: next.slots[slot] },
  });
  await deps.notifier.deployFinished(
    {
      operationId: op.id,
      kind: op.kind,
      service: state.service,
      version: op.version ?? 'unknown',
      slot,
      slotUrl: config.slots[slot].url,
      by: op.by,
      productionVersion: state.slots[state.production].version,
    },
    { ok: false, reason },
  );
  done.push(`ended ${op.id}: ${reason}`);
}
