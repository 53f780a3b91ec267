import type { Release } from '../domain/release.ts';
import {
  type ReleaseEffect,
  type ReleaseEvent,
  TransitionRefused,
  transition,
} from '../domain/release-machine.ts';
import type { ServiceState } from '../domain/service-state.ts';
import { type AppDeps, audit } from './app-deps.ts';
import { ReleaseError } from './release-error.ts';
import { currentState } from './service-access.ts';

export interface AppliedEvent {
  readonly release: Release;
  readonly state: ServiceState;
  readonly effects: readonly ReleaseEffect[];
}

const ENDED = new Set(['released', 'rejected', 'cancelled', 'failed', 'rolled_back']);

function recordTelemetry(deps: AppDeps, before: Release, after: Release): void {
  if (before.state === after.state) return;
  const seconds = (iso: string) =>
    Math.max(0, (Date.parse(after.updatedAt) - Date.parse(iso)) / 1000);
  if (ENDED.has(after.state))
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
 * Reads a release, runs the state machine and writes the result with compare-and-set, together
 * with what the effects change on the service (freeing it, or the new PRODUCTION slot). A lost
 * race is retried from fresh state, so concurrent clicks resolve to one outcome each.
 */
export async function applyReleaseEvent(
  deps: AppDeps,
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
          error.code === 'not_allowed' ? 'not_allowed' : 'not_available',
          error.message,
          `See /release status ${release.service}.`,
        );
      }
      throw error;
    }
    const state = await currentState(deps, release.service);
    if (result.release === release) return { release, state, effects: [] };
    let nextState = serviceChange(state, result.release);
    const frees = result.effects.some((e) => e.type === 'free_service');
    if (frees && nextState.operation?.releaseId === release.id)
      nextState = { ...nextState, operation: null };
    const serviceChanged = nextState !== state;
    if (serviceChanged) nextState = { ...nextState, revision: state.revision + 1 };
    const committed = await deps.store.commit({
      release: { next: result.release, expected: release.revision },
      ...(serviceChanged ? { service: { next: nextState, expected: state.revision } } : {}),
    });
    if (committed) {
      await audit(deps, {
        who: 'user' in event ? event.user : 'greenlight',
        what: `release ${event.type}: ${release.state} → ${result.release.state}`,
        service: release.service,
        releaseId: release.id,
        before: {
          state: release.state,
          approvals: release.approvals,
          production: state.production,
        },
        after: {
          state: result.release.state,
          approvals: result.release.approvals,
          production: nextState.production,
        },
      });
      recordTelemetry(deps, release, result.release);
      // The release no longer holds its service: its progress updates stop with it.
      if (frees) await deps.scheduler.stopProgress(release.id);
      return { release: result.release, state: nextState, effects: result.effects };
    }
  }
  throw new Error(`release ${releaseId} kept changing; "${event.type}" was not applied`);
}
