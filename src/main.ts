import { dirname, resolve } from 'node:path';
import { compose, StartupError } from './composition/compose.ts';
import { ConfigError } from './config/config-error.ts';
import { loadDotEnv } from './config/dot-env.ts';
import { readEnv } from './config/env.ts';
import { loadConfig } from './config/load-config.ts';
import { createLogger } from './logger.ts';

/**
 * The process: validate env and config before any connection opens, compose, start, and stop
 * cleanly on SIGTERM/SIGINT. Exit codes: 0 clean stop, 1 invalid configuration or failed start.
 */
async function main(): Promise<number> {
  let env: ReturnType<typeof readEnv>;
  let logger: ReturnType<typeof createLogger>;
  let greenlight: ReturnType<typeof compose>;
  try {
    loadDotEnv(process.env);
    env = readEnv(process.env);
    const config = await loadConfig(env.GREENLIGHT_CONFIG);
    logger = createLogger(env.LOG_LEVEL);
    // Relative deploy commands resolve from the config file's folder, as users write them there.
    greenlight = compose({ env, config, logger, cwd: dirname(resolve(env.GREENLIGHT_CONFIG)) });
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`greenlight: ${error.message}\n`);
      return 1;
    }
    throw error;
  }

  let stopping: Promise<number> | undefined;
  const stop = (signal: string): Promise<number> => {
    stopping ??= (async () => {
      logger.info({ signal }, 'stopping');
      // A stop that hangs anyway must still end the process: orchestrators wait only so long.
      const guard = setTimeout(() => {
        logger.error('graceful stop took too long; exiting');
        process.exit(1);
      }, env.GREENLIGHT_SHUTDOWN_TIMEOUT_MS + 1000);
      guard.unref();
      await greenlight.stop();
      logger.info('stopped');
      return 0;
    })();
    return stopping;
  };
  const stopped = new Promise<number>((resolve) => {
    process.once('SIGTERM', () => void stop('SIGTERM').then(resolve));
    process.once('SIGINT', () => void stop('SIGINT').then(resolve));
  });

  try {
    await greenlight.start();
  } catch (error) {
    // What a person must fix (Redis unreachable, an evicting Redis) reads as one plain sentence.
    if (error instanceof StartupError) process.stderr.write(`greenlight: ${error.message}\n`);
    else logger.fatal({ err: error }, `start-up failed: ${(error as Error).message}`);
    await greenlight.stop().catch(() => undefined);
    return 1;
  }
  return stopped;
}

main().then(
  (code) => {
    process.exitCode = code;
    // Lingering sockets (Slack keep-alive, BullMQ timers) must not keep a stopped process alive.
    setTimeout(() => process.exit(code), 200).unref();
  },
  (error: unknown) => {
    process.stderr.write(`greenlight: unexpected error: ${String(error)}\n`);
    process.exit(1);
  },
);
