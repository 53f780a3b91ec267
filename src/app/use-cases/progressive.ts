import type { ServiceConfig } from '../../config/greenlight-schema.ts';
import {
  type AnalysisReading,
  judgeInterval,
  readEvidence,
  type Verdict,
} from '../../domain/analysis.ts';
import { type ErrorJudgeSettings, judgeErrors } from '../../domain/error-judge.ts';
import { ACTIVE_STATES, type Release } from '../../domain/release.ts';
import { holdMinutesOf } from '../../domain/rings.ts';
import { type EventPorts, type ServicePorts, serviceConfig, type Uses } from '../app-deps.ts';
import { LockBusyError } from '../ports.ts';
import { closedFor } from '../release-calendar.ts';
import { ReleaseError } from '../release-error.ts';
import { runEvent } from '../release-runner.ts';
import { currentState } from '../service-access.ts';
import { advanceFlagRamp } from './flag-ramp.ts';
import { beginRollback } from './rollback.ts';

async function readSlot(
  deps: Uses<'clock' | 'metrics'>,
  release: Release,
  slot: Release['toSlot'],
  previous: unknown,
): Promise<{ reading?: AnalysisReading; sample: unknown; problem?: string }> {
  try {
    const { reading, sample } = await deps.metrics.read(
      release.service,
      slot,
      previous,
      deps.clock.now(),
    );
    return { reading, sample };
  } catch (error) {
    return { sample: previous, problem: (error as Error).message };
  }
}

/** A reading as the release keeps it: the histogram served its interval and is not stored. */
function stored(reading: AnalysisReading | undefined): AnalysisReading | undefined {
  if (reading === undefined) return undefined;
  const { latencyBuckets: _histogram, ...kept } = reading;
  return kept;
}

/** The sequential test's settings from a service's `analysis` config. */
export function judgeSettings(analysis: ServiceConfig['analysis']): ErrorJudgeSettings {
  return {
    maxErrorRatio: analysis.maxErrorRatio,
    errorRateFloorPercent: analysis.errorRateFloorPercent,
    falseFailure: analysis.falseRollbackPercent / 100,
    falsePass: analysis.falsePassPercent / 100,
  };
}

/**
 * How long a tick's lock outlives a worker that died holding it (a live holder renews it): two
 * intervals, between 5 and 30 s. Every tick meanwhile finds the lock busy and reads nothing, so
 * a longer lock would hold a canary or a stability window past its end after a crash.
 */
export function analysisLockMs(intervalSeconds: number): number {
  return Math.min(30_000, Math.max(5_000, 2 * intervalSeconds * 1000));
}

/**
 * One analysis tick while a release ramps or observes, from the release's job schedule (one job
 * per interval however many workers run; a lock keeps two slow ticks apart, and a tick that ran
 * on past a lapsed lock has its reading dropped). The first tick only takes samples; each later
 * one reads canary and baseline over the same interval and judges them (analysis.ts): strong
 * evidence of harm rolls back at once, a ceiling crossed `consecutiveBreaches` times too; no
 * data pauses after `maxFailedReads`; a hold passes only on evidence. Samples and evidence live
 * in the release, so a restart or a lost tick loses nothing.
 */
export async function runAnalyzeStep(
  deps: Uses<EventPorts | 'comms' | 'flags' | 'locks' | 'metrics'>,
  job: { releaseId: string; everyMs?: number | undefined },
): Promise<void> {
  try {
    await deps.locks.withLock(
      `analysis-${job.releaseId}`,
      // The schedule's own interval: the tick reads the release once, under the lock.
      analysisLockMs((job.everyMs ?? 60_000) / 1000),
      () => analyzeOnce(deps, job),
      { waitMs: 0 },
    );
  } catch (error) {
    if (error instanceof LockBusyError) return;
    throw error;
  }
}

async function analyzeOnce(
  deps: Uses<EventPorts | 'comms' | 'flags' | 'metrics'>,
  job: { releaseId: string },
): Promise<void> {
  const release = await deps.store.getRelease(job.releaseId);
  if (release === null || !ACTIVE_STATES.includes(release.state)) {
    await deps.scheduler.stopAnalysis(job.releaseId);
    return;
  }
  if (release.state !== 'ramping' && release.state !== 'observing') return;
  const service = serviceConfig(deps, release.service);
  // Rings: the current ring's own ceilings, over the service's analysis.
  const ring = release.canary?.rings?.[release.canary.stepIndex];
  const config = {
    ...service,
    analysis: { ...service.analysis, ...(ring && service.rings?.[ring.name]?.analysis) },
  };
  const previous = release.analysis?.samples;
  const canary = await readSlot(deps, release, release.toSlot, previous?.canary);
  const baseline = await readSlot(deps, release, release.fromSlot, previous?.baseline);
  const samples = { canary: canary.sample, baseline: baseline.sample };
  if (previous === undefined) {
    await runEvent(deps, release.id, { type: 'sampled', samples });
    return;
  }
  const judged =
    canary.reading === undefined
      ? undefined
      : judgeInterval(
          canary.reading,
          baseline.reading,
          readEvidence(release.analysis?.evidence),
          config.analysis,
          judgeSettings(config.analysis),
        );
  let verdict: Verdict = judged?.verdict ?? {
    verdict: 'no_data',
    figure: `no metrics: ${canary.problem ?? 'unknown error'}`,
  };
  const health = await deps.probe.health(release.service, release.toSlot);
  if (!health.ok) {
    const probe = `health probe failed: ${health.reason}`;
    verdict =
      verdict.verdict === 'fail'
        ? { verdict: 'fail', figures: [...verdict.figures, probe] }
        : {
            verdict: 'breach',
            figures: [...(verdict.verdict === 'breach' ? verdict.figures : []), probe],
          };
  }
  const analysed = await runEvent(deps, release.id, {
    type: 'analysis',
    canary: stored(canary.reading) ?? {
      requests: null,
      errors: null,
      errorRatePercent: 0,
      latencyMs: null,
    },
    ...(baseline.reading ? { baseline: stored(baseline.reading) } : {}),
    verdict,
    breachLimit: config.analysis.consecutiveBreaches,
    failedReadLimit: config.analysis.maxFailedReads,
    samples,
    ...(judged ? { evidence: judged.evidence } : {}),
    ...(config.analysis.dryRun ? { shadow: true } : {}),
    afterChecks: release.analysis?.checks ?? 0,
  });
  if (analysed.release === analysed.before) return; // another tick judged this interval
  const after = await advanceIfDue(deps, analysed.release, verdict);
  await advanceFlagRamp(deps, after, verdict);
}

/**
 * At the end of a canary hold or a stability window: a pass moves on; a hold without evidence
 * asks for Promote anyway or Roll back (a canary never promotes without evidence); a window
 * without evidence ends as `whenInconclusive` says, with the verdict recorded. A reading without
 * data says nothing new: the evidence gathered so far decides, or a later reading does (the
 * release pauses after `maxFailedReads`). In shadow mode holds and windows end by time, saying
 * what the verdict was.
 */
async function advanceIfDue(
  deps: Uses<EventPorts | 'comms'>,
  release: Release,
  verdict: Verdict,
): Promise<Release> {
  if (release.paused !== undefined) return release;
  const config = serviceConfig(deps, release.service);
  const shadow = config.analysis.dryRun;
  const now = deps.clock.now().getTime();
  let settled = verdict.verdict === 'pass';
  let missing = verdict.verdict === 'inconclusive' ? verdict.figure : undefined;
  if (verdict.verdict === 'no_data') {
    const stored = judgeErrors(
      readEvidence(release.analysis?.evidence),
      judgeSettings(config.analysis),
    );
    if (stored.verdict === 'pass') settled = true;
    else if (stored.verdict === 'extend') missing = stored.evidence;
  }
  let byTime: string | undefined;
  if (shadow && !settled) {
    byTime = verdict.verdict;
    settled = true;
  }
  if (!settled && (missing === undefined || verdict.verdict === 'no_data')) return release;
  if (release.state === 'ramping' && release.canary) {
    const canary = release.canary;
    const hold = holdMinutesOf(release, config.canary.holdMinutes);
    if (now < Date.parse(canary.stepStartedAt) + hold * 60_000) return release;
    if (!settled) {
      if (canary.awaitingPromotion) return release;
      const held = await runEvent(deps, release.id, {
        type: 'hold_inconclusive',
        missing: missing ?? 'not enough evidence',
        stepStartedAt: canary.stepStartedAt,
      });
      return held.release;
    }
    // A pass: a plain Promote is due (or a Promote anyway becomes one).
    if (canary.awaitingPromotion && canary.withoutEvidence === undefined) return release;
    const closed = closedFor(deps, release);
    if (closed !== undefined) {
      // A canary never walks into a closed window: it holds and says until when. Neither does
      // it ask for a Promote that would be refused (whose deadline would then roll it back);
      // at the first tick after the window opens it promotes or asks, as configured.
      const weight = canary.steps[canary.stepIndex] ?? 0;
      await deps.notifier.releaseNote(
        release,
        `calendar-hold-${canary.stepIndex}`,
        `Holding at ${weight} %: ${closed}. The canary moves on when the calendar opens.`,
      );
      return release;
    }
    const held = await runEvent(deps, release.id, {
      type: 'hold_passed',
      autoPromote: config.canary.autoPromote,
      stepStartedAt: canary.stepStartedAt,
      ...(byTime !== undefined ? { byTime } : {}),
    });
    return held.release;
  }
  if (
    release.state === 'observing' &&
    release.observeUntil &&
    now >= Date.parse(release.observeUntil)
  ) {
    if (settled)
      return (
        await runEvent(deps, release.id, {
          type: 'observed',
          ...(byTime !== undefined ? { byTime } : {}),
        })
      ).release;
    const requests = readEvidence(release.analysis?.evidence).canaryRequests;
    const verdictText = `not enough traffic to judge: ${requests.toLocaleString('en-US')} requests (${missing})`;
    if (config.analysis.whenInconclusive === 'rollback') {
      return (
        await beginRollback(deps, release.id, {
          type: 'rollback',
          user: 'greenlight',
          reason: `stability window ended with ${verdictText}`,
        })
      ).release;
    }
    return (await runEvent(deps, release.id, { type: 'observed', verdict: verdictText })).release;
  }
  return release;
}

/** `/sync` while a release observes its stability window: STANDBY is the rollback target. */
export async function refuseDuringStabilityWindow(
  deps: Uses<ServicePorts>,
  service: string,
): Promise<void> {
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
