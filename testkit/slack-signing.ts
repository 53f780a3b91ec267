import { createHmac } from 'node:crypto';

/** Slack's v0 request signature: HMAC-SHA256 of `v0:{timestamp}:{raw body}` with the signing secret. */
export function slackSignature(
  signingSecret: string,
  timestampSeconds: number,
  rawBody: string,
): string {
  const hmac = createHmac('sha256', signingSecret);
  hmac.update(`v0:${timestampSeconds}:${rawBody}`);
  return `v0=${hmac.digest('hex')}`;
}

/** The headers Slack sends with every request to an app's Request URL. */
export function signedHeaders(
  signingSecret: string,
  rawBody: string,
  timestampSeconds = Math.floor(Date.now() / 1000),
): Record<string, string> {
  return {
    'content-type': 'application/x-www-form-urlencoded',
    'x-slack-request-timestamp': String(timestampSeconds),
    'x-slack-signature': slackSignature(signingSecret, timestampSeconds, rawBody),
    'user-agent': 'Slackbot 1.0 (+https://api.slack.com/robots)',
  };
}
