/**
 * How fast automated analysis restores traffic after a fault, as a multiple of the analysis
 * interval. A release observes its stability window under load; then the new slot starts failing
 * half its requests, and the clock runs until HAProxy sends all traffic back to the old slot.
 * With `consecutiveBreaches: 2` that is one to two intervals (the first may begin before the fault).
 *
 * Run with `npm run bench:analysis` (redis-server on 127.0.0.1:6379, haproxy on the PATH).
 */
import { takesTraffic } from '../src/adapters/haproxy/haproxy-runtime-api.ts';
import {
  bumpAndRequestRelease,
  eventually,
  loadLoop,
  startReleaseWorld,
} from '../testkit/release-world.ts';

const INTERVAL_SECONDS = Number(process.env.BENCH_INTERVAL_SECONDS ?? 1);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

async function main(): Promise<void> {
  const world = await startReleaseWorld({
    stabilityWindowMinutes: 30,
    serviceExtra: `    analysis: { source: haproxy, maxErrorRatePercent: 1, maxP99Ms: 800, minRequests: 5, intervalSeconds: ${INTERVAL_SECONDS}, consecutiveBreaches: 2 }
`,
  });
  const load = loadLoop(world.haproxy.frontendUrl('api'), 3);
  const samples: number[] = [];
  try {
    for (let round = 0; round < ROUNDS; round += 1) {
      const version = `2.${5 + round}.0`;
      const { id } = await bumpAndRequestRelease(world, version, `api ${version}`);
      await world.click('U0DEV2', 'release_approve', id);
      const states = () => world.haproxy.serverStates('api');
      const newSlot = await eventually(
        async () => {
          const s = await states();
          return s.blue &&
            takesTraffic({ name: 'blue', ...s.blue }) &&
            s.green &&
            !takesTraffic({ name: 'green', ...s.green })
            ? 'blue'
            : s.green &&
                takesTraffic({ name: 'green', ...s.green }) &&
                s.blue &&
                !takesTraffic({ name: 'blue', ...s.blue })
              ? 'green'
              : '';
        },
        (slot) =>
          slot !== '' &&
          world.slack.messages('C0RELEASES').some((m) => m.text.includes(`${version} released`)),
        30_000,
        5,
      );
      await new Promise((r) => setTimeout(r, INTERVAL_SECONDS * 1500)); // let a passing reading land
      const failing = newSlot === 'blue' ? world.services.api?.blue : world.services.api?.green;
      const oldSlot = newSlot === 'blue' ? 'green' : 'blue';
      const started = performance.now();
      failing?.set({ errorRate: 0.5 });
      await eventually(
        async () => {
          const s = await states();
          const old = s[oldSlot];
          const bad = s[newSlot];
          return (
            old !== undefined &&
            bad !== undefined &&
            takesTraffic({ name: oldSlot, ...old }) &&
            !takesTraffic({ name: newSlot, ...bad })
          );
        },
        Boolean,
        60_000,
        5,
      );
      samples.push(performance.now() - started);
      failing?.set({ errorRate: 0 });
      await eventually(
        () =>
          world.slack.messages('C0ALERTS').filter((m) => m.text.includes('rolled back')).length ===
          round + 1,
        Boolean,
        30_000,
      );
      await world.command('U0DEV1', '/sync', 'api');
      await eventually(
        () =>
          world.slack.messages('C0RELEASES').filter((m) => m.text.includes('is in sync')).length ===
          round + 1,
        Boolean,
        30_000,
      );
    }
  } finally {
    await load.stop();
    await world.close();
  }
  const sorted = [...samples].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] ?? 0;
  console.log(
    `\nbench/analysis: ${ROUNDS} rounds, interval ${INTERVAL_SECONDS} s, 2 consecutive breaches, ${new Date().toISOString()}`,
  );
  console.log(
    `fault injected -> all traffic restored   median ${(median / 1000).toFixed(2)} s  min ${((sorted[0] ?? 0) / 1000).toFixed(2)} s  max ${((sorted.at(-1) ?? 0) / 1000).toFixed(2)} s`,
  );
  console.log(
    `ratio to the analysis interval: ${(median / (INTERVAL_SECONDS * 1000)).toFixed(2)}x (2 breaches in a row: the first interval may start before the fault, so 1 to 2 intervals)`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
