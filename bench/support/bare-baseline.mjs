// The memory baseline for bench/memory.ts: a bare Bolt app (HTTP receiver) with one BullMQ Queue
// and one Worker on the same Redis, as plain JavaScript on the same Node. Nothing of Greenlight.
// Prints `ready <pid>` once listening and the worker runs; stops on SIGTERM.
import { App, HTTPReceiver, LogLevel } from '@slack/bolt';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';

const port = Number(process.env.PORT ?? 0);
const prefix = process.env.BASELINE_PREFIX ?? 'bare-baseline';
const receiver = new HTTPReceiver({ signingSecret: process.env.SLACK_SIGNING_SECRET ?? 'x' });
const app = new App({
  token: process.env.SLACK_BOT_TOKEN ?? 'xoxb-baseline',
  receiver,
  clientOptions: { slackApiUrl: process.env.SLACK_API_URL },
  logLevel: LogLevel.ERROR,
  deferInitialization: true,
});
app.command('/bump', async ({ ack }) => {
  await ack({ response_type: 'ephemeral', text: 'Usage: /bump <service> [level]' });
});

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
const queue = new Queue('steps', { connection, prefix });
const worker = new Worker('steps', async (job) => job.data, {
  connection: new Redis(redisUrl, { maxRetriesPerRequest: null }),
  prefix,
});
await worker.waitUntilReady();
await queue.add('hello', { v: 1 });
await app.init();
await app.start(port);
process.stdout.write(`ready ${process.pid}\n`);
process.on('SIGTERM', async () => {
  await app.stop();
  await worker.close();
  await queue.obliterate({ force: true }).catch(() => undefined);
  await queue.close();
  await connection.quit();
  process.exit(0);
});
