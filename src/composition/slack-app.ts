import { App, HTTPReceiver, type Receiver, SocketModeReceiver } from '@slack/bolt';
import type { OpsRoute } from '../adapters/http/ops-routes.ts';
import { RedisDeliveryLog } from '../adapters/redis/redis-delivery-log.ts';
import { registerActionListeners } from '../adapters/slack/action-listeners.ts';
import { registerChecklistListeners } from '../adapters/slack/checklist-listeners.ts';
import { registerCommandListeners } from '../adapters/slack/command-listeners.ts';
import { deliveryHeaders, registerDeliveryGuard } from '../adapters/slack/delivery-guard.ts';
import { registerIncidentLinkListeners } from '../adapters/slack/incident-link-listeners.ts';
import type { AppDeps } from '../app/app-deps.ts';
import { checkClick, dispatchAction } from '../app/dispatch-action.ts';
import { dispatchCommand } from '../app/dispatch-command.ts';
import { recordIncidentLink } from '../app/use-cases/release-comms.ts';
import { tickChecklist } from '../app/use-cases/tick-checklist.ts';
import { type Env, usesSocketMode } from '../config/env.ts';
import type { AppLogger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { Adapters } from './adapters.ts';

/**
 * The Slack-facing part: Bolt and the command and action listeners. Imported only by processes
 * that take Slack traffic (roles all and web), so a worker never loads Bolt, Express and the
 * socket-mode client (see compose.ts).
 */

export interface SlackAppOptions {
  readonly env: Env;
  readonly logger: AppLogger;
  readonly metrics: Metrics;
  readonly now: () => number;
  readonly services: string[];
  /** The ops routes served on Slack's port (none when OPS_PORT gives them their own). */
  readonly routes: OpsRoute[];
  /** The use cases' ports; throws until start() has built them. */
  readonly appDeps: () => AppDeps;
}

/** The Bolt app: receiver, delivery guard, then the listeners that hand each request on. */
export function buildSlackApp(
  { redis, prefix, client, store, boltLogger }: Adapters,
  { env, logger, metrics, now, services, routes, appDeps }: SlackAppOptions,
): App {
  const receiver: Receiver = usesSocketMode(env)
    ? new SocketModeReceiver({
        appToken: env.SLACK_APP_TOKEN ?? '',
        logger: boltLogger,
        customRoutes: routes,
        installerOptions: { port: env.PORT },
      })
    : new HTTPReceiver({
        signingSecret: env.SLACK_SIGNING_SECRET ?? '',
        endpoints: '/slack/events',
        logger: boltLogger,
        customRoutes: routes,
        customPropertiesExtractor: (request) => ({ ...deliveryHeaders(request) }),
        // Unmatched requests get Bolt's 404 promptly instead of waiting for a timeout.
        unhandledRequestTimeoutMillis: 2500,
        // A signed payload missing what Slack always sends (a user, a list of actions) makes
        // Bolt throw before any listener runs: answer 400 rather than 500, which invites a retry.
        processEventErrorHandler: async ({ error, response, logger: boltLog }) => {
          if (response.headersSent) return false;
          const malformed = error instanceof TypeError;
          boltLog.warn(
            `${malformed ? 'malformed Slack payload' : 'error while processing a Slack request'}: ${error.message}`,
          );
          response.writeHead(malformed ? 400 : 500);
          response.end();
          return malformed;
        },
      });
  const app = new App({
    token: env.SLACK_BOT_TOKEN,
    receiver,
    logger: boltLogger,
    clientOptions: { slackApiUrl: env.SLACK_API_URL },
    deferInitialization: true,
  });
  const deliveries = new RedisDeliveryLog(redis, prefix);
  registerDeliveryGuard(app, {
    firstTime: (signature) => deliveries.firstTime(signature),
    nowMs: now,
    logger,
  });
  registerCommandListeners(app, {
    services,
    logger,
    dispatch: (request, context) => dispatchCommand(appDeps(), request, context),
    onCommand: (command, outcome) => metrics.commands.inc({ command, outcome }),
  });
  registerActionListeners(app, {
    logger,
    client,
    getRelease: (id) => store.getRelease(id),
    dispatch: (button, releaseId, click) => dispatchAction(appDeps(), button, releaseId, click),
    check: (button, release, click) => checkClick(appDeps(), button, release, click),
  });
  registerChecklistListeners(app, {
    logger,
    tick: (releaseId, click) => tickChecklist(appDeps(), releaseId, click),
  });
  registerIncidentLinkListeners(app, {
    logger,
    client,
    getRelease: (id) => store.getRelease(id),
    // Where the reminder is: the stakeholder channels, or without any the service's channel.
    channelsFor: (release) => {
      const stake = appDeps().config.comms.channels;
      return stake.length > 0
        ? stake
        : [appDeps().config.services[release.service]?.channel ?? []].flat();
    },
    currentLink: async (id) => (await appDeps().comms?.links.get(id)) ?? null,
    record: (input) => recordIncidentLink(appDeps(), input),
    workspace: () => appDeps().config.workspace,
  });
  app.error(async (error) => {
    logger.error({ err: error }, 'unhandled error in a Slack listener');
  });
  return app;
}
