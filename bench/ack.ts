/**
 * Slash-command ack latency at 50 concurrent senders: Greenlight (parsing, authorising and
 * answering `/bump` with usage) against a bare Bolt app answering the same command, same run.
 * Run with `npm run bench:ack`.
 */
import { spawn } from 'node:child_process';
import { freePort } from '../testkit/ports.ts';
import { SIGNING_SECRET, startReleaseWorld } from '../testkit/release-world.ts';
import { slashCommandBody } from '../testkit/slack-payloads.ts';
import { signedHeaders } from '../testkit/slack-signing.ts';

const SENDERS = 50;
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 3000);

async function measure(url: string, responseUrl: () => string): Promise<number[]> {
  const latencies: number[] = [];
  let sent = 0;
  const sender = async () => {
    while (sent < REQUESTS) {
      sent += 1;
      const body = slashCommandBody({ command: '/bump', text: '', response_url: responseUrl() });
      const started = performance.now();
      const res = await fetch(`${url}/slack/events`, {
        method: 'POST',
        headers: signedHeaders(SIGNING_SECRET, body),
        body,
      });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
      latencies.push(performance.now() - started);
    }
  };
  await Promise.all(Array.from({ length: SENDERS }, sender));
  return latencies.sort((a, b) => a - b);
}

const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;

async function main(): Promise<void> {
  const world = await startReleaseWorld();
  const port = await freePort();
  const bare = spawn(
    process.execPath,
    [new URL('./support/bare-bolt.ts', import.meta.url).pathname],
    {
      env: {
        PATH: process.env.PATH ?? '',
        PORT: String(port),
        SLACK_SIGNING_SECRET: SIGNING_SECRET,
        SLACK_BOT_TOKEN: world.slack.botToken,
        SLACK_API_URL: world.slack.apiUrl,
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  await new Promise<void>((resolve) =>
    bare.stdout?.on('data', (c: Buffer) => c.toString().includes('ready') && resolve()),
  );
  try {
    // Warm both up, then measure each in turn.
    await measure(world.app.url, () => world.slack.newResponseUrl());
    await measure(`http://127.0.0.1:${port}`, () => world.slack.newResponseUrl());
    const greenlight = await measure(world.app.url, () => world.slack.newResponseUrl());
    const baseline = await measure(`http://127.0.0.1:${port}`, () => world.slack.newResponseUrl());
    console.log(
      `\nbench/ack: ${REQUESTS} signed /bump requests, ${SENDERS} concurrent senders, ${new Date().toISOString()}`,
    );
    for (const [name, l] of [
      ['Greenlight', greenlight],
      ['bare Bolt app (baseline)', baseline],
    ] as const) {
      console.log(
        `${name.padEnd(26)} p50 ${pct(l, 50).toFixed(1).padStart(6)} ms   p99 ${pct(l, 99).toFixed(1).padStart(6)} ms   max ${(l.at(-1) ?? 0).toFixed(1)} ms`,
      );
    }
    console.log(
      `ratio Greenlight/baseline: p50 ${(pct(greenlight, 50) / pct(baseline, 50)).toFixed(2)}x, p99 ${(pct(greenlight, 99) / pct(baseline, 99)).toFixed(2)}x`,
    );
  } finally {
    bare.kill('SIGTERM');
    await world.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
