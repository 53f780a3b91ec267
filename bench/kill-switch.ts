/**
 * Kill-switch latency: `/flag api new-checkout off` through Greenlight (a signed command,
 * authorised against the config, the Unleash Admin API, the answer) from sending it until the
 * answer arrives, against the Unleash adapter's own disable call (the Admin API alone, the least
 * a kill switch can cost), on the same Unleash in the same run. The flag is checked off in
 * Unleash after every Greenlight round. Run with `npm run bench:kill-switch`.
 */
import { Agent } from 'undici';
import { UnleashFlagProvider } from '../src/adapters/flags/unleash-flag-provider.ts';
import { freePort } from '../testkit/ports.ts';
import { startReleaseWorld } from '../testkit/release-world.ts';
import { startUnleash, UNLEASH_ADMIN_TOKEN } from '../testkit/unleash.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 30);
const FLAG = { name: 'new-checkout', environment: 'production' };

const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;

/** Each round: the flag on, then `turnOff` timed, then `check` (untimed) that it is off. */
async function rounds(
  provider: UnleashFlagProvider,
  turnOff: () => Promise<void>,
  check: () => Promise<void> = async () => undefined,
): Promise<number[]> {
  const took: number[] = [];
  for (let i = 0; i < ROUNDS; i += 1) {
    await provider.enable(FLAG);
    const started = performance.now();
    await turnOff();
    took.push(performance.now() - started);
    await check();
  }
  return took.sort((a, b) => a - b);
}

async function main(): Promise<void> {
  const port = await freePort();
  const unleash = await startUnleash(port);
  const world = await startReleaseWorld({
    topLevelExtra: `flagProviders:\n  unleash: { url: "http://127.0.0.1:${port}", tokenEnv: UNLEASH_ADMIN_TOKEN, timeoutMs: 3000 }\n`,
    serviceExtra: [
      '    operators: { flag: [U0LEAD] }',
      '    flags:',
      `      - { name: ${FLAG.name}, environment: ${FLAG.environment}, killSwitch: true }`,
      '',
    ].join('\n'),
    env: { UNLEASH_ADMIN_TOKEN },
  });
  const dispatcher = new Agent();
  const provider = new UnleashFlagProvider(
    { url: unleash.url, token: UNLEASH_ADMIN_TOKEN, project: 'default', timeoutMs: 3000 },
    dispatcher,
  );
  try {
    await unleash.createFlag(FLAG.name);
    let answer = '';
    const viaGreenlight = async () => {
      answer = await world.command('U0LEAD', '/flag', `api ${FLAG.name} off bench`);
    };
    const answeredOff = async () => {
      if (!answer.includes('is off now')) throw new Error(`unexpected answer: ${answer}`);
      if ((await unleash.flag(FLAG.name, FLAG.environment)).enabled)
        throw new Error('Greenlight answered "off now" but Unleash still has the flag on');
    };
    const direct = () => provider.disable(FLAG);
    // Warm both up, then measure each in turn.
    await rounds(provider, viaGreenlight, answeredOff);
    await rounds(provider, direct);
    const greenlight = await rounds(provider, viaGreenlight, answeredOff);
    const baseline = await rounds(provider, direct);
    console.log(
      `\nbench/kill-switch: ${ROUNDS} rounds of flag on, then off, ${new Date().toISOString()}`,
    );
    for (const [name, l] of [
      ['/flag … off via Greenlight', greenlight],
      ['Admin API disable (baseline)', baseline],
    ] as const) {
      console.log(
        `${name.padEnd(30)} p50 ${pct(l, 50).toFixed(1).padStart(6)} ms   p95 ${pct(l, 95).toFixed(1).padStart(6)} ms   max ${(l.at(-1) ?? 0).toFixed(1)} ms`,
      );
    }
    console.log(
      `ratio Greenlight/baseline: p50 ${(pct(greenlight, 50) / pct(baseline, 50)).toFixed(2)}x, p95 ${(pct(greenlight, 95) / pct(baseline, 95)).toFixed(2)}x`,
    );
  } finally {
    await dispatcher.close();
    await world.close();
    await unleash.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
