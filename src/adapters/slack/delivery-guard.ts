import type { App } from '@slack/bolt';
import type { AppLogger } from '../../logger.ts';
import { refusalAnswer } from './blocks/private-answers.ts';
import { ephemeral } from './command-listeners.ts';

/** What the receiver copies from each request's headers into Bolt's context. */
export interface DeliveryHeaders {
  readonly slackSignature?: string;
  readonly slackTimestamp?: string;
}

/** For HTTPReceiver's `customPropertiesExtractor`. */
export function deliveryHeaders(request: { headers: Record<string, unknown> }): DeliveryHeaders {
  const header = (name: string) => {
    const value = request.headers[name];
    return typeof value === 'string' ? value : undefined;
  };
  const signature = header('x-slack-signature');
  const timestamp = header('x-slack-request-timestamp');
  return {
    ...(signature ? { slackSignature: signature } : {}),
    ...(timestamp ? { slackTimestamp: timestamp } : {}),
  };
}

const MAX_AHEAD_SECONDS = 5 * 60;

/**
 * One effect per Slack delivery. Bolt has verified the signature and refused stale timestamps;
 * this refuses timestamps from more than five minutes ahead, and answers a request whose
 * signature was already seen (a replay within the signing window) without acting on it. The
 * record lives in Redis, so it holds across several `web` replicas.
 */
export function registerDeliveryGuard(
  app: App,
  deps: {
    firstTime: (signature: string) => Promise<boolean>;
    nowMs: () => number;
    logger: AppLogger;
  },
): void {
  app.use(async ({ context, body, ack, next }) => {
    const { slackSignature, slackTimestamp } = context as DeliveryHeaders;
    if (slackSignature === undefined) {
      // Socket Mode: Slack's envelope, not a signed HTTP request; nothing to check here.
      await next();
      return;
    }
    const isCommand = typeof (body as { command?: unknown }).command === 'string';
    const answer = async (text: string, hint: string) => {
      const reply = ack as ((response?: unknown) => Promise<void>) | undefined;
      await reply?.(isCommand ? ephemeral(refusalAnswer(text, hint)) : undefined);
    };
    if (Number(slackTimestamp) > Math.floor(deps.nowMs() / 1000) + MAX_AHEAD_SECONDS) {
      deps.logger.warn({ timestamp: slackTimestamp }, 'refused a Slack request from the future');
      await answer(
        'This request is timestamped more than five minutes ahead; Greenlight did nothing.',
        "Check this machine's clock, then try again.",
      );
      return;
    }
    if (!(await deps.firstTime(slackSignature))) {
      deps.logger.info(
        { timestamp: slackTimestamp },
        'a Slack request seen before: answered, not acted on',
      );
      await answer(
        'Greenlight already received this exact request and acted on it once.',
        'Nothing more was done. Type the command again to repeat it.',
      );
      return;
    }
    await next();
  });
}
