/**
 * The baseline for bench/ack.ts: a bare Bolt app in HTTP mode that answers `/bump` with a fixed
 * private message, nothing else. Same Bolt, same signature checks, no Greenlight.
 */
import { App, HTTPReceiver, LogLevel } from '@slack/bolt';

const port = Number(process.env.PORT ?? 0);
const receiver = new HTTPReceiver({ signingSecret: process.env.SLACK_SIGNING_SECRET ?? '' });
const app = new App({
  token: process.env.SLACK_BOT_TOKEN,
  receiver,
  clientOptions: { slackApiUrl: process.env.SLACK_API_URL },
  logLevel: LogLevel.ERROR,
});
app.command('/bump', async ({ ack }) => {
  await ack({ response_type: 'ephemeral', text: 'Usage: /bump <service> [level]' });
});
await app.start(port);
process.stdout.write('ready\n');
process.on('SIGTERM', () => void app.stop().then(() => process.exit(0)));
