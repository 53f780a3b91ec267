/**
 * Memory: Greenlight's resident memory as production runs it (the compiled `dist/src/main.js`
 * that `npm start` runs), at idle with one service, at idle with 200 services and with 50
 * releases active at once, each beside a baseline started in the same run: a bare Bolt app
 * (HTTP receiver) with one BullMQ Queue and one Worker on the same Redis and the same Node.
 * Also Redis memory per release record and per audit entry. Run with `npm run bench:memory`.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { eventually, type ReleaseWorld, startReleaseWorld } from '../testkit/release-world.ts';
import {
  answers,
  connectionsTo,
  cpuSeconds,
  residentBytes,
  type Started,
  startNode,
} from './support/process-memory.ts';

const SERVICES = Number(process.env.BENCH_SERVICES ?? 200);
const ACTIVE = Number(process.env.BENCH_ACTIVE ?? 50);
const ROOT = new URL('../', import.meta.url).pathname;
const MAIN = `${ROOT}dist/src/main.js`;
/** The Node options `npm start` runs Greenlight with (`node <options> dist/src/main.js`). */
const START_FLAGS = (() => {
  const pkg = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as {
    scripts: Record<string, string>;
  };
  const words = (pkg.scripts.start ?? '').split(/\s+/);
  return words.slice(words.indexOf('node') + 1, words.indexOf('dist/src/main.js'));
})();
const BASELINE = new URL('./support/bare-baseline.mjs', import.meta.url).pathname;
const REDIS_PORT = 6379;

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Median of 5 readings a second apart, after `settleMs` of quiet. */
async function rss(pid: number, settleMs = 3000): Promise<number> {
  await pause(settleMs);
  const readings: number[] = [];
  for (let i = 0; i < 5; i += 1) {
    readings.push(await residentBytes(pid));
    await pause(1000);
  }
  return readings.sort((a, b) => a - b)[2] ?? 0;
}

/** Replaces the world's Greenlight (run from the sources) by the compiled one on the same port. */
async function startCompiled(world: ReleaseWorld, extra: Record<string, string> = {}) {
  await world.app.stop('SIGTERM');
  const env: Record<string, string> = { LOG_LEVEL: 'warn', ...world.env, ...extra };
  return startNode([...START_FLAGS, MAIN], env, () =>
    answers(`http://127.0.0.1:${env.PORT}/healthz`),
  );
}

async function startBaseline(world: ReleaseWorld, flags: string[] = []): Promise<Started> {
  return startNode(
    [...flags, BASELINE],
    {
      REDIS_URL: world.redis.url,
      BASELINE_PREFIX: `${world.redis.keyPrefix}-baseline`,
      SLACK_API_URL: world.slack.apiUrl,
      SLACK_BOT_TOKEN: world.slack.botToken,
      PORT: '0',
    },
    async (output) => output.some((line) => line.startsWith('ready')),
  );
}

interface Row {
  readonly label: string;
  readonly bytes: number;
  readonly redis: number;
  /** CPU seconds (user + system) the process had used when its memory was read. */
  readonly cpu: number;
}

async function main(): Promise<void> {
  const build = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
  if (build.status !== 0) throw new Error('npm run build failed');
  const rows: Row[] = [];
  const baselines: number[] = [];

  // The world's own Greenlight (run from the sources) is replaced at once by the compiled one;
  // as a web-only process it starts quickly even with 200 services.
  const small = await startReleaseWorld({ env: { GREENLIGHT_ROLE: 'web' } });
  let baselineRedis = 0;
  let tunedBaseline = 0;
  try {
    const baseline = await startBaseline(small);
    baselines.push(await rss(baseline.pid));
    baselineRedis = await connectionsTo(baseline.pid, REDIS_PORT);
    await baseline.stop();
    if (START_FLAGS.length > 0) {
      // For comparison only: the baseline with the Node options Greenlight runs with.
      const tuned = await startBaseline(small, START_FLAGS);
      tunedBaseline = await rss(tuned.pid);
      await tuned.stop();
    }
    for (const role of ['all', 'web', 'worker']) {
      const app = await startCompiled(small, { GREENLIGHT_ROLE: role });
      const bytes = await rss(app.pid);
      rows.push({
        label: `idle, 1 service, role ${role}`,
        bytes,
        redis: await connectionsTo(app.pid, REDIS_PORT),
        cpu: await cpuSeconds(app.pid),
      });
      await app.stop();
    }
  } finally {
    await small.close();
  }

  const names = Array.from({ length: SERVICES }, (_, i) => `svc${String(i + 1).padStart(3, '0')}`);
  const world = await startReleaseWorld({ services: names, env: { GREENLIGHT_ROLE: 'web' } });
  let app: Started | undefined;
  try {
    app = await startCompiled(world, { GREENLIGHT_ROLE: 'all' });
    rows.push({
      label: `idle, ${SERVICES} services`,
      bytes: await rss(app.pid),
      redis: await connectionsTo(app.pid, REDIS_PORT),
      cpu: await cpuSeconds(app.pid),
    });
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
    rows.push({
      label: `${ACTIVE} releases active, ${SERVICES} services`,
      bytes: await rss(app.pid),
      redis: await connectionsTo(app.pid, REDIS_PORT),
      cpu: await cpuSeconds(app.pid),
    });
    const baseline = await startBaseline(world);
    baselines.push(await rss(baseline.pid));
    await baseline.stop();

    const redis = world.redis.redis;
    const releaseKeys = (await world.redis.keys()).filter((k) => k.includes(':release:'));
    const releaseBytes = await Promise.all(
      releaseKeys.map(async (k) => Number(await redis.call('MEMORY', 'USAGE', k, 'SAMPLES', '0'))),
    );
    const auditKey = (await world.redis.keys()).find((k) => k.endsWith(':audit')) ?? '';
    const auditBytes = Number(await redis.call('MEMORY', 'USAGE', auditKey, 'SAMPLES', '0'));
    const auditEntries = await redis.xlen(auditKey);

    const base = baselines.reduce((a, b) => a + b, 0) / baselines.length;
    console.log(`\nbench/memory: ${new Date().toISOString()}, node ${process.version}`);
    console.log(`Greenlight runs as npm start runs it: node ${[...START_FLAGS, MAIN].join(' ')}`);
    console.log(
      `baseline (bare Bolt + 1 Queue + 1 Worker)             ${mib(base)}  (runs: ${baselines.map(mib).join(', ')}; ${baselineRedis} Redis connections)`,
    );
    if (tunedBaseline > 0)
      console.log(
        `${`baseline with npm start's options`.padEnd(54)}${mib(tunedBaseline)}  (for comparison; ratios use the plain baseline)`,
      );
    for (const row of rows) {
      console.log(
        `${`Greenlight ${row.label}`.padEnd(54)}${mib(row.bytes)}  ${(row.bytes / base).toFixed(2)}x baseline  (${row.redis} Redis connections, ${row.cpu.toFixed(1)} s CPU so far)`,
      );
    }
    const avg = releaseBytes.reduce((a, b) => a + b, 0) / Math.max(1, releaseBytes.length);
    console.log(
      `Redis per release record                              ${(avg / 1024).toFixed(2)} KiB (average of ${releaseBytes.length})`,
    );
    console.log(
      `Redis per audit entry                                 ${(auditBytes / Math.max(1, auditEntries)).toFixed(0)} B (${auditEntries} entries, ${(auditBytes / 1024).toFixed(1)} KiB)`,
    );
  } finally {
    await app?.stop();
    await world.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
