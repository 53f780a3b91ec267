import type { Release } from '../domain/release.ts';
import { ENDED_STATES, rollbackAttempt } from '../domain/release.ts';
import {
  type ReleaseEffect,
  type ReleaseEvent,
  TransitionRefused,
  transition,
} from '../domain/release-machine.ts';
import { type ServiceState, standbyOf, withSlot } from '../domain/service-state.ts';
import { audit, type EventPorts, type ServicePorts, serviceConfig, type Uses } from './app-deps.ts';
import { preSwitchJob } from './pre-switch-job.ts';
import { ReleaseError } from './release-error.ts';
import { currentState } from './service-access.ts';
import { commsChanged } from './use-cases/release-comms.ts';

export interface AppliedEvent {
  readonly release: Release;
  readonly state: ServiceState;
  readonly effects: readonly ReleaseEffect[];
  /** The transition added a timeline line: the release message is worth editing. */
  readonly noted: boolean;
  /** The release the event was applied to (after any retries): what this event changed. */
  readonly before: Release;
}

function recordTelemetry(deps: Uses<'telemetry'>, before: Release, after: Release): void {
  if (before.state === after.state) return;
  const seconds = (iso: string) =>
    Math.max(0, (Date.parse(after.updatedAt) - Date.parse(iso)) / 1000);
  if (ENDED_STATES.includes(after.state))
    deps.telemetry.releaseEnded(after.service, after.state, seconds(after.createdAt));
  if (after.state === 'rolling_back' && before.state !== 'rolling_back') {
    deps.telemetry.rollbackStarted(
      after.service,
      after.rollback?.by === 'greenlight' ? 'automatic' : 'manual',
    );
  }
  if (before.state === 'awaiting_approval' && after.state === 'switching') {
    deps.telemetry.approved(after.service, seconds(after.createdAt));
  }
}

/**
 * What the effects change on the service, in the same write as the release: PRODUCTION moves,
 * the service is freed, or a rollback takes it over. A rollback preempts a running /bump or
 * /sync: that operation ends here, its slot counts as unknown, and its worker kills the deploy
 * when it sees the operation gone.
 */
function serviceAfter(
  deps: Uses<'clock'>,
  state: ServiceState,
  release: Release,
  effects: readonly ReleaseEffect[],
  who: string,
): ServiceState {
  let next = state;
  for (const effect of effects) {
    if (effect.type === 'production' && next.production !== effect.slot)
      next = { ...next, production: effect.slot };
    if (effect.type === 'free_service' && next.operation?.releaseId === release.id)
      next = { ...next, operation: null };
    if (effect.type === 'rollback_traffic') {
      const running = next.operation;
      if (running !== null && (running.kind === 'bump' || running.kind === 'sync')) {
        const slot = standbyOf(next);
        next = withSlot(
          next,
          slot,
          {
            version: null,
            health: 'failed',
            note: `the ${running.kind} to ${running.version} was cancelled by a rollback`,
          },
          deps.clock.now(),
        );
      }
      next = {
        ...next,
        // The release rolling back decides traffic now, even when a newer one never went live.
        lastReleaseId: release.id,
        operation: {
          id: release.id,
          kind: 'rollback',
          by: who,
          startedAt: deps.clock.now().toISOString(),
          version: release.version,
          releaseId: release.id,
        },
      };
    }
  }
  return next;
}

/**
 * Reads a release, runs the state machine and writes the result with compare-and-set, together
 * with what the effects change on the service. A lost race is retried from fresh state, so
 * concurrent clicks resolve to one outcome each. Effects are not performed here: see runEvent.
 */
export async function applyReleaseEvent(
  deps: Uses<ServicePorts | 'telemetry'>,
  releaseId: string,
  event: ReleaseEvent,
  serviceChange: (state: ServiceState, release: Release) => ServiceState = (s) => s,
): Promise<AppliedEvent> {
  for (let attempt = 0; attempt < 10; attempt += 1) {
    const release = await deps.store.getRelease(releaseId);
    if (release === null) {
      throw new ReleaseError(
        'not_available',
        'This release no longer exists.',
        'See /release status for what is live.',
      );
    }
    let result: ReturnType<typeof transition>;
    try {
      result = transition(release, event, deps.clock.now());
    } catch (error) {
      if (error instanceof TransitionRefused) {
        throw new ReleaseError(
          error.code === 'not_allowed' || error.code === 'checklist_open'
            ? 'not_allowed'
            : 'not_available',
          error.message,
          error.code === 'checklist_open'
            ? 'Tick them on the release message, then click Approve again.'
            : `See /release status ${release.service}.`,
        );
      }
      throw error;
    }
    const state = await currentState(deps, release.service);
    if (result.release === release)
      return { release, state, effects: [], noted: false, before: release };
    const who = 'user' in event ? event.user : 'greenlight';
    let nextState = serviceAfter(
      deps,
      serviceChange(state, result.release),
      result.release,
      result.effects,
      who,
    );
    const serviceChanged = nextState !== state;
    if (serviceChanged) nextState = { ...nextState, revision: state.revision + 1 };
    const committed = await deps.store.commit({
      release: { next: result.release, expected: release.revision },
      ...(serviceChanged ? { service: { next: nextState, expected: state.revision } } : {}),
    });
    if (committed) {
      await audit(deps, {
        who,
        what: `release ${event.type}: ${release.state} → ${result.release.state}`,
        service: release.service,
        releaseId: release.id,
        before: {
          state: release.state,
          revision: release.revision,
          approvals: release.approvals,
          production: state.production,
        },
        after: {
          state: result.release.state,
          revision: result.release.revision,
          approvals: result.release.approvals,
          production: nextState.production,
        },
      });
      recordTelemetry(deps, release, result.release);
      return {
        release: result.release,
        state: nextState,
        effects: result.effects,
        noted: result.release.timeline.length !== release.timeline.length,
        before: release,
      };
    }
  }
  throw new Error(`release ${releaseId} kept changing; "${event.type}" was not applied`);
}

/**
 * Performs what a committed transition asked for. Every effect here is also re-derived by the
 * sweeper from the stored state (a lost job is enqueued again, a dead schedule restarted), so a
 * crash between the write and these calls delays a step and never loses it.
 */
export async function performEffects(
  deps: Uses<EventPorts | 'comms'>,
  applied: AppliedEvent,
): Promise<void> {
  const release = applied.release;
  const config = serviceConfig(deps, release.service);
  for (const effect of applied.effects) {
    switch (effect.type) {
      case 'switch_traffic':
        await deps.scheduler.enqueue({
          step: 'switch',
          releaseId: release.id,
          revision: release.revision,
        });
        break;
      case 'drive_traffic':
        await deps.scheduler.enqueue({
          step: 'traffic',
          service: release.service,
          cause: `${release.id}-r${release.revision}`,
        });
        break;
      case 'rollback_traffic':
        await deps.scheduler.enqueue({
          step: 'rollback',
          releaseId: release.id,
          attempt: rollbackAttempt(release),
        });
        break;
      case 'start_analysis':
        await deps.scheduler.startAnalysis(release.id, config.analysis.intervalSeconds * 1000);
        break;
      case 'report_released':
        await deps.notifier.releaseReport(release, applied.state);
        break;
      case 'free_service':
        // The release no longer holds its service: its schedules stop with it.
        await deps.scheduler.stopProgress(release.id);
        await deps.scheduler.stopAnalysis(release.id);
        break;
      case 'auto_rollback':
        await runEvent(deps, release.id, {
          type: 'rollback',
          user: 'greenlight',
          reason: effect.reason,
        });
        break;
      case 'run_step': {
        const job = preSwitchJob(release);
        if (job !== undefined) await deps.scheduler.enqueue(job);
        break;
      }
      case 'production':
      case 'report_rolled_back':
        break;
    }
  }
}

/** Applies an event, edits the release message, then performs the effects: the one runner. */
export async function runEvent(
  deps: Uses<EventPorts | 'comms'>,
  releaseId: string,
  event: ReleaseEvent,
  serviceChange?: (state: ServiceState, release: Release) => ServiceState,
): Promise<AppliedEvent> {
  const applied = await applyReleaseEvent(deps, releaseId, event, serviceChange);
  if (applied.noted) {
    // The service as it is now, not as read before the commit: a deploy committing in between
    // draws this release's older revision with its newer service, and the two cards would then
    // be older each in one revision, so the outbox (which drops only a card older in every
    // revision) could end on either. Read after the commit, this one covers both.
    const service = (await deps.store.getService(applied.release.service)) ?? applied.state;
    await deps.notifier.releaseChanged(applied.release, service);
  }
  if (applied.before.state !== applied.release.state) await commsChanged(deps, applied.release);
  if (applied.effects.some((e) => e.type === 'rollback_traffic')) {
    await deps.notifier.rollbackAlert(applied.release, applied.state, 'in_progress');
  }
  await performEffects(deps, applied);
  return applied;
}
