import type { AppDeps } from '../app/app-deps.ts';
import type { Env } from '../config/env.ts';
import type { GreenlightConfig } from '../config/greenlight-schema.ts';
import type { AppLogger } from '../logger.ts';
import { createMetrics, type Metrics } from '../metrics.ts';
import { buildAdapters } from './adapters.ts';
import { type Lifecycle, lifecycle, type RunState, readinessChecks } from './lifecycle.ts';
import { opsRouteList, slackHealthOf } from './web.ts';
import { WorkerPool } from './workers.ts';

export { StartupError } from './lifecycle.ts';

export const VERSION = '0.1.0';

export interface Greenlight extends Lifecycle {
  readonly metrics: Metrics;
}

export interface ComposeOptions {
  readonly env: Env;
  readonly config: GreenlightConfig;
  readonly logger: AppLogger;
  readonly now?: () => number;
  /**
   * Greenlight's own environment: webhook secrets are read from it, and child processes get its
   * allow-listed part only (PATH, HOME, locale, what `deploy.env` names).
   */
  readonly processEnv?: NodeJS.ProcessEnv;
  /** Where relative deploy commands resolve: the directory of greenlight.yml. */
  readonly cwd?: string;
}

/**
 * The one composition root: the only place that constructs Bolt, BullMQ, ioredis and clients.
 * The role decides what this process builds: the web part (Bolt), the workers, or both.
 */
export function compose({
  env,
  config,
  logger,
  now = Date.now,
  processEnv = process.env,
  cwd = process.cwd(),
}: ComposeOptions): Greenlight {
  const role = env.GREENLIGHT_ROLE;
  const runsWeb = role === 'all' || role === 'web';
  const runsWorkers = role === 'all' || role === 'worker';
  const services = Object.keys(config.services).sort();
  const metrics = createMetrics();
  metrics.info.set({ version: VERSION, role }, 1);
  const world = { env, config, logger, metrics, now, processEnv, cwd };
  const adapters = buildAdapters(world);

  const state: RunState = { deps: undefined, stopping: false };
  const appDeps = (): AppDeps => {
    if (state.deps === undefined) throw new Error('Greenlight is not started yet');
    return state.deps;
  };
  const pool = new WorkerPool(env, adapters.prefix, metrics, logger);
  const checks = readinessChecks(adapters, runsWorkers ? pool : undefined, state);
  const slackHealth = slackHealthOf(adapters, metrics, logger, now);
  const routes = opsRouteList(checks, slackHealth, adapters, env, metrics, now);
  // With OPS_PORT the ops endpoints live only on their own listener; Slack's port answers 404.
  const slackRoutes = env.OPS_PORT === undefined ? routes : [];
  // Bolt, Express and the listeners load only where this process takes Slack traffic.
  const buildApp = runsWeb
    ? async () =>
        (await import('./slack-app.ts')).buildSlackApp(adapters, {
          ...world,
          services,
          routes: slackRoutes,
          appDeps,
        })
    : undefined;

  return {
    metrics,
    ...lifecycle({
      ...world,
      services,
      adapters,
      pool,
      runsWorkers,
      buildApp,
      routes,
      slackHealth,
      state,
    }),
  };
}
