/**
 * Time for a step to resume after its worker is killed (SIGKILL), against BullMQ's stall
 * interval: a slow deploy runs on one of two workers, the bench kills that worker, and the clock
 * runs until the other worker starts the deploy again. Run with `npm run bench:resume`.
 */
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { type RunningGreenlight, startGreenlight } from '../testkit/greenlight-process.ts';
import { freePort } from '../testkit/ports.ts';
import { eventually, startReleaseWorld } from '../testkit/release-world.ts';

const STALLED_MS = Number(process.env.BENCH_STALLED_MS ?? 2000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

async function main(): Promise<void> {
  const world = await startReleaseWorld({
    env: { GREENLIGHT_ROLE: 'web', GREENLIGHT_STALLED_INTERVAL_MS: String(STALLED_MS) },
  });
  const workers: RunningGreenlight[] = [];
  const startWorker = async () =>
    workers.push(
      await startGreenlight({
        ...world.env,
        GREENLIGHT_ROLE: 'worker',
        PORT: String(await freePort()),
      }),
    );
  await startWorker();
  await startWorker();
  const connection = new Redis(world.redis.url, { maxRetriesPerRequest: null });
  const steps = new Queue('steps', { connection, prefix: `{${world.redis.keyPrefix}}` });
  const samples: number[] = [];
  try {
    await world.services.api?.setDeployMode('slow');
    for (let round = 0; round < ROUNDS; round += 1) {
      const version = `2.${5 + round}.0`;
      const runsBefore = (await world.services.api?.deployRuns())?.length ?? 0;
      await world.command('U0DEV1', '/bump', `api ${version}`);
      await eventually(
        async () => (await world.services.api?.deployRuns())?.length ?? 0,
        (n) => n === runsBefore + 1,
        20_000,
        10,
      );
      const active = await eventually(
        () => steps.getActive(),
        (jobs) => jobs.some((j) => j.name === 'deploy' && j.processedBy),
        10_000,
        10,
      );
      const owner = active.find((j) => j.name === 'deploy')?.processedBy;
      const victim = workers.find((w) => owner === `greenlight-${w.child.pid}`);
      if (victim === undefined) throw new Error(`no worker named ${owner}`);
      const started = performance.now();
      victim.child.kill('SIGKILL');
      await eventually(
        async () => (await world.services.api?.deployRuns())?.length ?? 0,
        (n) => n === runsBefore + 2,
        120_000,
        10,
      );
      samples.push(performance.now() - started);
      workers.splice(workers.indexOf(victim), 1);
      await startWorker();
      await eventually(
        () =>
          world.slack
            .messages('C0RELEASES')
            .some((m) => m.text.includes(`${version} is on STANDBY`)),
        Boolean,
        30_000,
      );
    }
  } finally {
    await steps.close();
    connection.disconnect();
    for (const w of workers) await w.stop('SIGKILL');
    await world.close();
  }
  const sorted = [...samples].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] ?? 0;
  console.log(
    `\nbench/resume: ${ROUNDS} rounds, stall interval ${STALLED_MS} ms, ${new Date().toISOString()}`,
  );
  console.log(
    `worker killed -> step running again on another worker   median ${(median / 1000).toFixed(2)} s  min ${((sorted[0] ?? 0) / 1000).toFixed(2)} s  max ${((sorted.at(-1) ?? 0) / 1000).toFixed(2)} s`,
  );
  console.log(
    `ratio to the stall interval: ${(median / STALLED_MS).toFixed(2)}x (BullMQ notices a lost lock on its next stall check, then another worker picks the step up)`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
