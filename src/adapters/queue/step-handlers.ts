import { z } from 'zod';
import type { AppDeps } from '../../app/app-deps.ts';
import { runDeployStep } from '../../app/use-cases/deploy-to-standby.ts';
import {
  runAdvanceStep,
  runAnalyzeStep,
  runProgressStep,
} from '../../app/use-cases/progressive.ts';
import { reconcileTraffic } from '../../app/use-cases/reconcile-traffic.ts';
import { runRollbackStep } from '../../app/use-cases/rollback.ts';
import { runSwitchStep } from '../../app/use-cases/switch-traffic.ts';
import {
  advanceJobSchema,
  analyzeJobSchema,
  deployJobSchema,
  PROGRESS_JOB,
  progressJobSchema,
  rollbackJobSchema,
  switchJobSchema,
} from './bullmq-step-scheduler.ts';
import { type JobHandlers, jobHandler } from './job-router.ts';

export const RECONCILE_JOB = 'reconcile';
export const reconcileJobSchema = z.object({ v: z.literal(1) });

/** The steps queue's processors: one use case per job name. */
export function stepHandlers(deps: AppDeps): JobHandlers {
  return {
    deploy: jobHandler(deployJobSchema, (data) => runDeployStep(deps, data)),
    switch: jobHandler(switchJobSchema, (data) => runSwitchStep(deps, data)),
    rollback: jobHandler(rollbackJobSchema, (data) => runRollbackStep(deps, data)),
    advance: jobHandler(advanceJobSchema, (data) => runAdvanceStep(deps, data)),
    analyze: jobHandler(analyzeJobSchema, (data) => runAnalyzeStep(deps, data)),
    [PROGRESS_JOB]: jobHandler(progressJobSchema, (data, job) =>
      runProgressStep(deps, data, job.timestamp),
    ),
    [RECONCILE_JOB]: jobHandler(reconcileJobSchema, async () => {
      const outcomes = [];
      for (const service of Object.keys(deps.config.services)) {
        outcomes.push(await reconcileTraffic(deps, service));
      }
      return outcomes;
    }),
  };
}
