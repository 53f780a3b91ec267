/**
 * How long Greenlight takes to move traffic, against the HAProxy Runtime API commands alone.
 *
 *   approval click -> all traffic on the new slot
 *   /rollback      -> all traffic back on the old slot
 *   baseline       -> the same Runtime API commands (ready + weight, wait until running, drain)
 *
 * Everything is real: Greenlight as a process, Redis, HAProxy, slot servers, the Slack emulator.
 * Run with `npm run bench` (needs redis-server on 127.0.0.1:6379 and haproxy on the PATH).
 */
import {
  HaproxyRuntimeApi,
  isRunning,
  takesTraffic,
} from '../src/adapters/haproxy/haproxy-runtime-api.ts';
import {
  bumpAndRequestRelease,
  eventually,
  loadLoop,
  startReleaseWorld,
} from '../testkit/release-world.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);

function stats(samples: number[]): { median: number; min: number; max: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    median: sorted[Math.floor(sorted.length / 2)] ?? 0,
    min: sorted[0] ?? 0,
    max: sorted.at(-1) ?? 0,
  };
}

const fmt = (ms: number) => `${ms.toFixed(1)} ms`;

async function main(): Promise<void> {
  const world = await startReleaseWorld();
  const api = new HaproxyRuntimeApi(world.haproxy.runtimeApi, 2000);
  const allOn = async (slot: 'blue' | 'green') => {
    const states = await world.haproxy.serverStates('api');
    const other = slot === 'blue' ? 'green' : 'blue';
    const s = states[slot];
    const o = states[other];
    return (
      s !== undefined &&
      o !== undefined &&
      takesTraffic({ name: slot, ...s }) &&
      !takesTraffic({ name: other, ...o })
    );
  };
  const approvals: number[] = [];
  const rollbacks: number[] = [];
  const baseline: number[] = [];
  // Sustained traffic through HAProxy during every switch: not one request may fail.
  const load = loadLoop(world.haproxy.frontendUrl('api'), 4, 2);
  let traffic = { total: 0, failed: 0, errors: [] as string[] };
  try {
    let minor = 5;
    for (let round = 0; round < ROUNDS; round += 1) {
      const state = await world.haproxy.serverStates('api');
      const production =
        state.blue !== undefined && takesTraffic({ name: 'blue', ...state.blue })
          ? 'blue'
          : 'green';
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
          world.slack.messages('C0ALERTS').filter((m) => m.text.includes('rolled back')).length ===
          round + 1,
        Boolean,
      );

      // Baseline: the same commands by hand, there and back, in the same HAProxy.
      for (const [to, from] of [
        [standby, production],
        [production, standby],
      ] as const) {
        started = performance.now();
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
        baseline.push(performance.now() - started);
      }
    }
    traffic = await load.stop();
  } finally {
    await load.stop();
    await world.close();
  }
  const a = stats(approvals);
  const r = stats(rollbacks);
  const b = stats(baseline);
  const rows = [
    ['approval click -> all traffic on new slot', a],
    ['/rollback -> all traffic back', r],
    ['baseline: raw Runtime API switch', b],
  ] as const;
  console.log(`\nbench/switch: ${ROUNDS} rounds, ${new Date().toISOString()}`);
  for (const [name, s] of rows) {
    console.log(
      `${name.padEnd(44)} median ${fmt(s.median).padStart(10)}  min ${fmt(s.min).padStart(10)}  max ${fmt(s.max).padStart(10)}`,
    );
  }
  console.log(`ratio approval/baseline: ${(a.median / b.median).toFixed(1)}x`);
  console.log(`ratio rollback/baseline: ${(r.median / b.median).toFixed(1)}x`);
  console.log(
    `requests through HAProxy during all switches: ${traffic.total}, failed: ${traffic.failed} (${((traffic.failed / Math.max(1, traffic.total)) * 100).toFixed(3)} %)`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
