import { type AnalysisReading, judge, type Verdict } from '../../domain/analysis.ts';
import type { Release } from '../../domain/release.ts';
import type { ReleaseEffect } from '../../domain/release-machine.ts';
import type { ServiceState } from '../../domain/service-state.ts';
import type { Answer } from '../answer.ts';
import { type AppDeps, serviceConfig } from '../app-deps.ts';
import { ReleaseError } from '../release-error.ts';
import { type AppliedEvent, applyReleaseEvent } from '../release-events.ts';
import { currentState } from '../service-access.ts';
import { beginRollback } from './rollback.ts';
import { TRAFFIC_LOCK_TTL_MS, trafficLock } from './switch-traffic.ts';

/** End of the stability window for traffic that moved now, or undefined when there is none. */
export function stabilityEnd(deps: AppDeps, service: string): string | undefined {
  const minutes = serviceConfig(deps, service).stabilityWindowMinutes;
  return minutes > 0
    ? new Date(deps.clock.now().getTime() + minutes * 60_000).toISOString()
    : undefined;
}

const becomeProduction =
  (release: Release) =>
  (state: ServiceState): ServiceState =>
    state.production === release.toSlot ? state : { ...state, production: release.toSlot };

/** Performs what a transition asked for: steps to enqueue, reports, an automatic rollback. */
export async function performEffects(deps: AppDeps, applied: AppliedEvent): Promise<void> {
  const release = applied.release;
  for (const effect of applied.effects as ReleaseEffect[]) {
    switch (effect.type) {
      case 'start_analysis':
        await deps.scheduler.enqueue({
          step: 'analyze',
          releaseId: release.id,
          tick: 0,
          delayMs: 0,
        });
        break;
      case 'advance':
        await deps.scheduler.enqueue({ step: 'advance', releaseId: release.id, to: effect.to });
        break;
      case 'report_released':
        await deps.notifier.releaseReport(release, applied.state);
        break;
      case 'auto_rollback':
        await startAutomaticRollback(deps, release.id, effect.reason);
        break;
      default:
        break;
    }
  }
}

/** A breach decided it: traffic goes back now, the alert names the figure, nobody has to act. */
async function startAutomaticRollback(
  deps: AppDeps,
  releaseId: string,
  reason: string,
): Promise<void> {
  await beginRollback(deps, releaseId, { type: 'rollback', user: 'greenlight', reason });
}

function stabilityWindow(deps: AppDeps, release: Release): { observeUntil?: string } {
  const until = stabilityEnd(deps, release.service);
  return until ? { observeUntil: until } : {};
}

/** The worker step that moves a canary to its next weight. Idempotent per target step. */
export async function runAdvanceStep(
  deps: AppDeps,
  job: { releaseId: string; to: number },
): Promise<void> {
  const first = await deps.store.getRelease(job.releaseId);
  if (first === null) return;
  await deps.locks.withLock(trafficLock(first.service), TRAFFIC_LOCK_TTL_MS, async () => {
    const release = await deps.store.getRelease(job.releaseId);
    if (release === null || release.state !== 'ramping' || release.canary === undefined) return;
    if (release.canary.stepIndex >= job.to) return;
    const weight = release.canary.steps[job.to] ?? 100;
    try {
      await deps.traffic.split(release.service, release.toSlot, weight);
    } catch (error) {
      await startAutomaticRollback(
        deps,
        release.id,
        `moving to ${weight} % failed: ${(error as Error).message}`,
      );
      return;
    }
    const applied = await applyReleaseEvent(
      deps,
      release.id,
      {
        type: 'step_reached',
        stepIndex: job.to,
        ...(weight >= 100 ? stabilityWindow(deps, release) : {}),
      },
      (state, r) => (weight >= 100 ? becomeProduction(r)(state) : state),
    );
    await deps.notifier.releaseChanged(applied.release, applied.state);
    await performEffects(deps, applied);
  });
}

async function readSlot(
  deps: AppDeps,
  release: Release,
  slot: Release['toSlot'],
  previous: unknown,
): Promise<{ reading?: AnalysisReading; sample: unknown; problem?: string }> {
  try {
    const { reading, sample } = await deps.metrics.read(release.service, slot, previous);
    return { reading, sample };
  } catch (error) {
    return { sample: previous, problem: (error as Error).message };
  }
}

/**
 * One analysis tick while a release ramps or observes. Tick 0 only takes the first samples; each
 * later tick judges the canary against thresholds (and its health probe), may pause on thin
 * traffic, roll back on repeated breaches, pass a hold or end the stability window, and
 * schedules the next tick. Ticks have deterministic ids, so a re-run never forks the loop.
 */
export async function runAnalyzeStep(
  deps: AppDeps,
  job: { releaseId: string; tick: number; samples?: { canary: unknown; baseline: unknown } },
): Promise<void> {
  const release = await deps.store.getRelease(job.releaseId);
  if (release === null || (release.state !== 'ramping' && release.state !== 'observing')) return;
  const config = serviceConfig(deps, release.service);
  const intervalMs = config.analysis.intervalSeconds * 1000;
  const canary = await readSlot(deps, release, release.toSlot, job.samples?.canary);
  const baseline = await readSlot(deps, release, release.fromSlot, job.samples?.baseline);
  const samples = { canary: canary.sample, baseline: baseline.sample };

  let latest: Release = release;
  if (job.tick > 0) {
    let verdict: Verdict =
      canary.reading === undefined
        ? { verdict: 'inconclusive', figure: `no metrics: ${canary.problem ?? 'unknown error'}` }
        : judge(canary.reading, config.analysis);
    const health = await deps.probe.health(release.service, release.toSlot);
    if (!health.ok) {
      verdict = {
        verdict: 'breach',
        figures: [
          ...(verdict.verdict === 'breach' ? verdict.figures : []),
          `health probe failed: ${health.reason}`,
        ],
      };
    }
    const analysed = await applyReleaseEvent(deps, release.id, {
      type: 'analysis',
      canary: canary.reading ?? { requests: 0, errorRatePercent: 0, latencyMs: null },
      ...(baseline.reading ? { baseline: baseline.reading } : {}),
      verdict,
      breachLimit: config.analysis.consecutiveBreaches,
    });
    latest = analysed.release;
    if (analysed.release.timeline.length !== release.timeline.length) {
      await deps.notifier.releaseChanged(analysed.release, analysed.state);
    }
    await performEffects(deps, analysed);
    latest = await advanceIfDue(deps, analysed.release, verdict);
  }
  if (latest.state === 'ramping' || latest.state === 'observing') {
    await deps.scheduler.enqueue({
      step: 'analyze',
      releaseId: release.id,
      tick: job.tick + 1,
      delayMs: intervalMs,
      samples,
    });
  }
}

/** A passed hold (canary) or a passed stability window, once the latest verdict is a pass. */
async function advanceIfDue(deps: AppDeps, release: Release, verdict: Verdict): Promise<Release> {
  if (verdict.verdict !== 'pass' || release.paused !== undefined) return release;
  const config = serviceConfig(deps, release.service);
  const now = deps.clock.now().getTime();
  if (release.state === 'ramping' && release.canary && !release.canary.awaitingPromotion) {
    if (now < Date.parse(release.canary.stepStartedAt) + config.canary.holdMinutes * 60_000)
      return release;
    const held = await applyReleaseEvent(deps, release.id, {
      type: 'hold_passed',
      autoPromote: config.canary.autoPromote,
    });
    await deps.notifier.releaseChanged(held.release, held.state);
    await performEffects(deps, held);
    return held.release;
  }
  if (
    release.state === 'observing' &&
    release.observeUntil &&
    now >= Date.parse(release.observeUntil)
  ) {
    const done = await applyReleaseEvent(deps, release.id, { type: 'observed' });
    await deps.notifier.releaseChanged(done.release, done.state);
    return done.release;
  }
  return release;
}

/** The progress job: one reply per interval while active; the schedule removes itself after. */
export async function runProgressStep(
  deps: AppDeps,
  job: { releaseId: string },
  sequence: number,
): Promise<void> {
  const release = await deps.store.getRelease(job.releaseId);
  const active =
    release !== null &&
    ['awaiting_approval', 'switching', 'ramping', 'observing'].includes(release.state);
  if (!active || release === null) {
    await deps.scheduler.stopProgress(job.releaseId);
    return;
  }
  const state = await currentState(deps, release.service);
  await deps.notifier.progress(release, state, sequence);
  // The parent shows `Observing 12/30 min`: keep it current too.
  await deps.notifier.releaseChanged(release, state);
}

/** Who may steer a canary: anyone holding one of the roles the release needed. */
async function requireApprover(
  deps: AppDeps,
  release: Release,
  user: string,
  allowRequester: boolean,
): Promise<void> {
  if (!allowRequester && user === release.requester) {
    throw new ReleaseError(
      'not_allowed',
      'You requested this release; an approver must promote it.',
      'Ask one of its approvers.',
    );
  }
  for (const role of release.requiredRoles) {
    if ((await deps.directory.members(deps.config.roles[role] ?? [])).includes(user)) return;
  }
  if (allowRequester && user === release.requester) return;
  throw new ReleaseError(
    'not_allowed',
    `Only approvers (${release.requiredRoles.join(', ')}) can steer this canary.`,
    'Ask one of them, or /rollback to abort.',
  );
}

/** The canary buttons: Promote, Pause, Resume. Abort is a rollback. */
export async function steerCanary(
  deps: AppDeps,
  request: { releaseId: string; user: string; action: 'promote' | 'pause' | 'resume' },
): Promise<Answer> {
  const release = await deps.store.getRelease(request.releaseId);
  if (release === null)
    throw new ReleaseError(
      'not_available',
      'This release no longer exists.',
      'See /release status.',
    );
  await requireApprover(deps, release, request.user, request.action !== 'promote');
  const event =
    request.action === 'promote'
      ? ({ type: 'promote', user: request.user } as const)
      : request.action === 'pause'
        ? ({ type: 'pause', user: request.user, reason: 'paused from Slack' } as const)
        : ({ type: 'resume', user: request.user } as const);
  const applied = await applyReleaseEvent(deps, release.id, event);
  await deps.notifier.releaseChanged(applied.release, applied.state);
  await performEffects(deps, applied);
  const r = applied.release;
  if (request.action === 'promote') {
    return {
      message: `Promoting ${r.service} ${r.version} to ${r.canary?.steps[(r.canary?.stepIndex ?? 0) + 1] ?? 100} %.`,
    };
  }
  return request.action === 'pause'
    ? {
        message: `Paused ${r.service} ${r.version}: traffic stays where it is.`,
        hint: 'Resume or Abort on the release message.',
      }
    : { message: `Resumed ${r.service} ${r.version}.` };
}

/** `/sync` while a release observes its stability window: STANDBY is the rollback target. */
export async function refuseDuringWindow(deps: AppDeps, service: string): Promise<void> {
  const state = await currentState(deps, service);
  const releaseId = state.operation?.releaseId;
  const release = releaseId ? await deps.store.getRelease(releaseId) : null;
  if (release?.state === 'observing' && release.observeUntil) {
    throw new ReleaseError(
      'release_in_progress',
      `STANDBY (${release.fromSlot}) is the instant-rollback target until ${release.observeUntil.slice(11, 16)} UTC, when the stability window of ${service} ${release.version} ends.`,
      `/sync ${service} after that, or /rollback ${service} if something is wrong.`,
    );
  }
}
