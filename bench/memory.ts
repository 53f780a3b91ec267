/**
 * Memory: Greenlight's resident memory at idle with one service, at idle with 200 services, and
 * with 50 releases active at once; Redis memory per release record and per audit entry.
 * Run with `npm run bench:memory`.
 */
import { eventually, type ReleaseWorld, startReleaseWorld } from '../test/support/release-world.ts';

const SERVICES = Number(process.env.BENCH_SERVICES ?? 200);
const ACTIVE = Number(process.env.BENCH_ACTIVE ?? 50);

async function rss(world: ReleaseWorld): Promise<number> {
  const text = await (await fetch(`${world.app.url}/metrics`)).text();
  return Number(text.match(/^greenlight_process_resident_memory_bytes (\d+)/m)?.[1] ?? 0);
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

async function settle(): Promise<void> {
  await new Promise((r) => setTimeout(r, 3000));
}

async function main(): Promise<void> {
  const small = await startReleaseWorld();
  await settle();
  const idleOne = await rss(small);
  await small.close();

  const names = Array.from({ length: SERVICES }, (_, i) => `svc${String(i + 1).padStart(3, '0')}`);
  const world = await startReleaseWorld({ services: names });
  try {
    await settle();
    const idleMany = await rss(world);
    const active = names.slice(0, ACTIVE);
    for (const service of active) await world.command('U0DEV1', '/bump', service);
    await eventually(
      () =>
        world.slack.messages('C0RELEASES').filter((m) => m.text.includes('2.4.1 is on STANDBY'))
          .length,
      (n) => n === ACTIVE,
      180_000,
      500,
    );
    for (const service of active) await world.command('U0DEV1', '/release', service);
    await eventually(
      () =>
        world.slack
          .messages('C0RELEASES')
          .filter(
            (m) =>
              m.thread_ts === undefined && JSON.stringify(m.blocks).includes('release_approve'),
          ).length,
      (n) => n === ACTIVE,
      120_000,
      500,
    );
    await settle();
    const busy = await rss(world);

    const redis = world.redis.redis;
    const releaseKeys = (await world.redis.keys()).filter((k) => k.includes(':release:'));
    const releaseBytes = await Promise.all(
      releaseKeys.map(async (k) => Number(await redis.call('MEMORY', 'USAGE', k, 'SAMPLES', '0'))),
    );
    const auditKey = (await world.redis.keys()).find((k) => k.endsWith(':audit')) ?? '';
    const auditBytes = Number(await redis.call('MEMORY', 'USAGE', auditKey, 'SAMPLES', '0'));
    const auditEntries = await redis.xlen(auditKey);

    console.log(`\nbench/memory: ${new Date().toISOString()}`);
    console.log(`RSS idle, 1 service (baseline)            ${mib(idleOne)}`);
    console.log(
      `RSS idle, ${SERVICES} services                     ${mib(idleMany)}  (${(idleMany / idleOne).toFixed(2)}x baseline)`,
    );
    console.log(
      `RSS with ${ACTIVE} releases active (${SERVICES} services)  ${mib(busy)}  (${(busy / idleOne).toFixed(2)}x baseline)`,
    );
    const avg = releaseBytes.reduce((a, b) => a + b, 0) / Math.max(1, releaseBytes.length);
    console.log(
      `Redis per release record                   ${(avg / 1024).toFixed(2)} KiB (average of ${releaseBytes.length})`,
    );
    console.log(
      `Redis per audit entry                      ${(auditBytes / Math.max(1, auditEntries)).toFixed(0)} B (${auditEntries} entries, ${(auditBytes / 1024).toFixed(1)} KiB)`,
    );
  } finally {
    await world.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
