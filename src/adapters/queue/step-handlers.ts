import { z } from 'zod';
import type { AppDeps, EventPorts, Uses } from '../../app/app-deps.ts';
import { reconcileTraffic } from '../../app/reconciler.ts';
import { sweepService } from '../../app/sweeper.ts';
import { runDeployStep } from '../../app/use-cases/deploy-to-standby.ts';
import { runPreSwitchStep } from '../../app/use-cases/pre-switch-steps.ts';
import { runProgressStep } from '../../app/use-cases/progress-updates.ts';
import { runAnalyzeStep } from '../../app/use-cases/progressive.ts';
import { commsTick } from '../../app/use-cases/release-comms.ts';
import { runRollbackStep } from '../../app/use-cases/rollback-traffic.ts';
import { runSwitchStep, runTrafficStep } from '../../app/use-cases/switch-traffic.ts';
import {
  ANALYZE_JOB,
  analyzeJobSchema,
  deployJobSchema,
  PROGRESS_JOB,
  preSwitchJobSchema,
  progressJobSchema,
  rollbackJobSchema,
  switchJobSchema,
  trafficJobSchema,
} from './bullmq-step-scheduler.ts';
import { type JobHandlers, jobHandler } from './job-router.ts';

export const RECONCILE_JOB = 'reconcile';
export const reconcileJobSchema = z.object({ v: z.literal(1) });

/** One pass of the control loop over every service: deadlines and lost jobs, then traffic. */
export async function controlLoopPass(deps: Uses<EventPorts | 'locks'>) {
  const outcomes = [];
  for (const service of Object.keys(deps.config.services)) {
    const swept = await sweepService(deps, service).catch((error: unknown) => {
      deps.log.warn({ service, err: error }, 'sweep failed');
      return [] as string[];
    });
    if (swept.length > 0) deps.log.info({ service, swept }, 'sweeper acted');
    outcomes.push({ ...(await reconcileTraffic(deps, service)), swept });
    // After traffic: a silence is pushed forward, never at the cost of the reconcile itself.
    await commsTick(deps, service).catch((error: unknown) =>
      deps.log.warn({ service, err: error }, 'comms tick failed'),
    );
  }
  return outcomes;
}

/** The steps queue's processors: one use case per job name. */
export function stepHandlers(deps: AppDeps): JobHandlers {
  return {
    deploy: jobHandler(deployJobSchema, (data) => runDeployStep(deps, data)),
    switch: jobHandler(switchJobSchema, (data) => runSwitchStep(deps, data)),
    rollback: jobHandler(rollbackJobSchema, (data, job) =>
      runRollbackStep(deps, { ...data, attempt: attemptOf(job.id) }),
    ),
    traffic: jobHandler(trafficJobSchema, (data) => runTrafficStep(deps, data)),
    pre_switch: jobHandler(preSwitchJobSchema, (data) => runPreSwitchStep(deps, data)),
    [ANALYZE_JOB]: jobHandler(analyzeJobSchema, (data) => runAnalyzeStep(deps, data)),
    [PROGRESS_JOB]: jobHandler(progressJobSchema, (data, job) =>
      runProgressStep(deps, data, job.timestamp),
    ),
    [RECONCILE_JOB]: jobHandler(reconcileJobSchema, () => controlLoopPass(deps)),
  };
}

/** The attempt (release revision) a rollback job was enqueued for, from its id. */
function attemptOf(id: string | undefined): number | undefined {
  const match = id?.match(/-rollback-(\d+)$/);
  return match ? Number(match[1]) : undefined;
}
