/**
 * How long Greenlight takes to move traffic, against the HAProxy Runtime API commands alone.
 *
 *   approval click -> all traffic on the new slot
 *   /rollback      -> all traffic back on the old slot
 *   baseline       -> the same Runtime API commands (ready + weight, wait until running, drain)
 *
 * on 1, 3 and 10 HAProxy instances in front of the same slots (`BENCH_FLEET_SIZES`): one is the
 * single `runtimeApi` form, more are `traffic.haproxy.instances`, switched all at once. The
 * baseline sends the commands to every instance in parallel, so the ratio is Greenlight's own
 * cost (reading back every instance, the release bookkeeping) and the growth shows how it scales.
 *
 * Everything is real: Greenlight as a process, Redis, HAProxy, slot servers, the Slack emulator.
 * Run with `npm run bench` (needs redis-server on 127.0.0.1:6379 and haproxy on the PATH).
 */
import {
  HaproxyRuntimeApi,
  isRunning,
  takesTraffic,
} from '../src/adapters/haproxy/haproxy-runtime-api.ts';
import type { HaproxyFixture } from '../testkit/haproxy-fixture.ts';
import {
  bumpAndRequestRelease,
  eventually,
  loadLoop,
  startReleaseWorld,
} from '../testkit/release-world.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SIZES = (process.env.BENCH_FLEET_SIZES ?? '1,3,10').split(',').map(Number);

type Stats = { median: number; min: number; max: number };

function stats(samples: number[]): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    median: sorted[Math.floor(sorted.length / 2)] ?? 0,
    min: sorted[0] ?? 0,
    max: sorted.at(-1) ?? 0,
  };
}

const fmt = (ms: number) => `${ms.toFixed(1)} ms`;

async function allOnOne(lb: HaproxyFixture, slot: 'blue' | 'green'): Promise<boolean> {
  const states = await lb.serverStates('api');
  const other = slot === 'blue' ? 'green' : 'blue';
  const s = states[slot];
  const o = states[other];
  return (
    s !== undefined &&
    o !== undefined &&
    takesTraffic({ name: slot, ...s }) &&
    !takesTraffic({ name: other, ...o })
  );
}

/** The raw commands of one switch on one instance: ready + weight, wait until running, drain. */
async function rawSwitch(api: HaproxyRuntimeApi, to: string, from: string): Promise<void> {
  await api.apply([`set server api/${to} state ready`, `set weight api/${to} 100`]);
  while (
    !isRunning(
      (await api.serverStates('api')).find((s) => s.name === to) ?? {
        name: to,
        operational: 0,
        admin: 0,
        weight: 0,
      },
    )
  ) {
    await new Promise((r) => setTimeout(r, 5));
  }
  await api.apply([`set server api/${from} state drain`]);
}

interface SizeResult {
  readonly size: number;
  readonly approval: Stats;
  readonly rollback: Stats;
  readonly baseline: Stats;
  readonly traffic: { total: number; failed: number; errors: string[] };
  /** Times HAProxy's own health checks marked a slot DOWN, summed over every instance. */
  readonly checksDown: number;
}

/**
 * What tells a failed request's cause: a slot marked DOWN by a health check (a check answered too
 * late, e.g. a starved CPU) leaves no server to send to, whatever Greenlight did; failures with
 * no DOWN at all would point at the order of Greenlight's moves instead.
 */
async function checksDown(api: HaproxyRuntimeApi): Promise<number> {
  const lines = (await api.send('show stat api 4 -1')).split('\n').filter(Boolean);
  const header = (lines[0] ?? '').replace(/^# /, '').split(',');
  const at = header.indexOf('chkdown');
  return lines.slice(1).reduce((sum, line) => sum + (Number(line.split(',')[at]) || 0), 0);
}

async function measure(size: number): Promise<SizeResult> {
  const world = await startReleaseWorld(
    size > 1 ? { haproxyFleet: { regions: Array.from({ length: size }, () => 'one') } } : {},
  );
  const apis = world.fleet.map((lb) => new HaproxyRuntimeApi(lb.runtimeApi, 2000));
  const allOn = async (slot: 'blue' | 'green') =>
    (await Promise.all(world.fleet.map((lb) => allOnOne(lb, slot)))).every(Boolean);
  const approvals: number[] = [];
  const rollbacks: number[] = [];
  const baseline: number[] = [];
  // Sustained traffic through every HAProxy during every switch: not one request may fail.
  const loads = world.fleet.map((lb) => loadLoop(lb.frontendUrl('api'), size > 3 ? 1 : 2, 2));
  const traffic = { total: 0, failed: 0, errors: [] as string[] };
  let down = 0;
  try {
    let minor = 5;
    for (let round = 0; round < ROUNDS; round += 1) {
      const production = (await allOnOne(world.haproxy, 'blue')) ? 'blue' : 'green';
      const standby = production === 'blue' ? 'green' : 'blue';
      const version = `2.${minor}.0`;
      minor += 1;
      const { id } = await bumpAndRequestRelease(world, version, `api ${version}`);

      let started = performance.now();
      await world.click('U0DEV2', 'release_approve', id);
      await eventually(() => allOn(standby), Boolean, 30_000, 2);
      approvals.push(performance.now() - started);
      await eventually(
        () =>
          world.slack.messages('C0RELEASES').some((m) => m.text.includes(`${version} released`)),
        Boolean,
      );

      started = performance.now();
      await world.command('U0DEV1', '/rollback', 'api bench');
      await eventually(() => allOn(production), Boolean, 30_000, 2);
      rollbacks.push(performance.now() - started);
      await eventually(
        () =>
          world.slack
            .messages('C0ALERTS')
            .filter((m) => m.text.includes('Production restored after a rollback')).length ===
          round + 1,
        Boolean,
      );

      // Baseline: the same commands by hand on every instance at once, there and back.
      for (const [to, from] of [
        [standby, production],
        [production, standby],
      ] as const) {
        started = performance.now();
        await Promise.all(apis.map((api) => rawSwitch(api, to, from)));
        baseline.push(performance.now() - started);
      }
    }
  } finally {
    for (const load of loads) {
      const t = await load.stop();
      traffic.total += t.total;
      traffic.failed += t.failed;
      traffic.errors.push(...t.errors);
    }
    down = (await Promise.all(apis.map(checksDown))).reduce((a, b) => a + b, 0);
    await world.close();
  }
  return {
    size,
    approval: stats(approvals),
    rollback: stats(rollbacks),
    baseline: stats(baseline),
    traffic,
    checksDown: down,
  };
}

async function main(): Promise<void> {
  const results: SizeResult[] = [];
  for (const size of SIZES) results.push(await measure(size));
  console.log(`\nbench/switch: ${ROUNDS} rounds per fleet size, ${new Date().toISOString()}`);
  const first = results[0];
  for (const r of results) {
    console.log(`\n${r.size} HAProxy instance${r.size === 1 ? '' : 's'}:`);
    const rows = [
      ['approval click -> all traffic on new slot', r.approval],
      ['/rollback -> all traffic back', r.rollback],
      ['baseline: raw Runtime API switch', r.baseline],
    ] as const;
    for (const [name, s] of rows) {
      console.log(
        `  ${name.padEnd(44)} median ${fmt(s.median).padStart(10)}  min ${fmt(s.min).padStart(10)}  max ${fmt(s.max).padStart(10)}`,
      );
    }
    console.log(
      `  ratio approval/baseline: ${(r.approval.median / r.baseline.median).toFixed(1)}x`,
    );
    console.log(
      `  ratio rollback/baseline: ${(r.rollback.median / r.baseline.median).toFixed(1)}x`,
    );
    if (first !== undefined && r !== first)
      console.log(
        `  growth vs ${first.size}: approval ${(r.approval.median / first.approval.median).toFixed(2)}x, baseline ${(r.baseline.median / first.baseline.median).toFixed(2)}x`,
      );
    console.log(
      `  requests through HAProxy during all switches: ${r.traffic.total}, failed: ${r.traffic.failed} (${((r.traffic.failed / Math.max(1, r.traffic.total)) * 100).toFixed(3)} %)`,
    );
    console.log(`  health checks that marked a slot DOWN, all instances: ${r.checksDown}`);
    if (r.traffic.failed > 0)
      console.log(`  first failures: ${[...new Set(r.traffic.errors)].slice(0, 5).join(' | ')}`);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
