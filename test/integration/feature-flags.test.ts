import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UnleashFlagProvider } from '../../src/adapters/flags/unleash-flag-provider.ts';
import type { FlagProviderError } from '../../src/app/flag-ports.ts';
import { freePort } from '../../testkit/ports.ts';
import {
  bumpAndRequestRelease,
  eventually,
  loadLoop,
  type ReleaseWorld,
  startReleaseWorld,
  trafficSplit,
} from '../../testkit/release-world.ts';
import type { EmulatedMessage as SlackMessage } from '../../testkit/slack-emulator.ts';
import { startUnleash, UNLEASH_ADMIN_TOKEN, type UnleashFixture } from '../../testkit/unleash.ts';
import { restoredAlert } from '../support/world-inspection.ts';

const FLAG = 'new-checkout';
const ENV = 'production';

function textOf(message: SlackMessage | undefined): string {
  return `${message?.text ?? ''}\n${JSON.stringify(message?.blocks ?? [])}`;
}

/** The release's thread, as the channel shows it. */
function thread(world: ReleaseWorld, parentTs: string): SlackMessage[] {
  return world.slack.messages('C0RELEASES').filter((m) => m.thread_ts === parentTs);
}

describe('feature flags on a real Unleash (PostgreSQL, unleash-server)', () => {
  let unleash: UnleashFixture;
  let world: ReleaseWorld;
  let load: ReturnType<typeof loadLoop> | undefined;

  beforeAll(async () => {
    // Greenlight asks Unleash nothing until a flag is changed: it starts while Unleash migrates.
    const unleashPort = await freePort();
    const started = await Promise.allSettled([
      (async () => {
        unleash = await startUnleash(unleashPort);
        await unleash.createFlag(FLAG);
        await unleash.createFlag('dark-mode');
        await unleash.createFlag('dark-mode-eu');
      })(),
      (async () => {
        world = await startReleaseWorld({
          stabilityWindowMinutes: 10,
          topLevelExtra: `flagProviders:\n  unleash: { url: "http://127.0.0.1:${unleashPort}", tokenEnv: UNLEASH_ADMIN_TOKEN, timeoutMs: 3000 }\n`,
          serviceExtra: [
            // A 1 % floor: a clean canary passes on about 560 requests, not the 5,600 the 0.1 %
            // default asks for (tens of seconds of load on a busy machine); a ramp step still moves
            // only after a passing analysis, and 50 % errors still roll back at once.
            '    analysis: { source: haproxy, minRequests: 0, intervalSeconds: 0.5, errorRateFloorPercent: 1 }',
            '    canary: { holdMinutes: 0.02 }',
            '    operators: { flag: [U0DEV1, U0DEV2, U0LEAD] }',
            '    flags:',
            `      - { name: ${FLAG}, environment: ${ENV}, rollout: [10, 50, 100], killSwitch: true, role: team }`,
            `      - { name: dark-mode, environment: ${ENV} }`,
            // Configured for an environment this Unleash does not have.
            '      - { name: dark-mode-eu, environment: staging }',
            '',
          ].join('\n'),
          env: { UNLEASH_ADMIN_TOKEN },
        });
      })(),
    ]);
    for (const outcome of started) if (outcome.status === 'rejected') throw outcome.reason;
    expect(unleash.url).toBe(`http://127.0.0.1:${unleashPort}`);
  }, 180_000);
  afterAll(async () => {
    await load?.stop();
    await world?.close();
    await unleash?.stop();
  });

  let first = { id: '', parentTs: '' };

  it('ramps a flag 10 → 50 → 100 % in the stability window, each step after a passing analysis, read back from Unleash', async () => {
    // A minor release: team approves, and team may change the flag.
    first = await bumpAndRequestRelease(world, '2.5.0', 'api minor');
    await world.click('U0DEV2', 'release_approve', first.id);
    await eventually(
      () => world.slack.messages('C0RELEASES').find((m) => m.ts === first.parentTs),
      (m) => m?.text.includes('Observing') === true,
    );
    // Starting a ramp is an approval: not the requester's own.
    expect(await world.command('U0DEV1', '/flag', `api ${FLAG} ramp`)).toContain(
      'Starting a flag ramp is an approval: it needs team, and not the requester',
    );
    expect((await unleash.flag(FLAG, ENV)).enabled).toBe(false);
    load = loadLoop(world.haproxy.frontendUrl('api'), 3);
    const seen: number[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const state = await unleash.flag(FLAG, ENV);
        const percent = state.enabled ? (state.rollouts[0] ?? 100) : 0;
        if (percent > 0 && seen.at(-1) !== percent) seen.push(percent);
        await new Promise((r) => setTimeout(r, 30));
      }
    })();
    expect(await world.command('U0DEV2', '/flag', `api ${FLAG} ramp`)).toContain(
      `${FLAG} is on for 10 %: it ramps 10 → 50 → 100 %`,
    );
    await eventually(
      () => thread(world, first.parentTs).map((m) => m.text),
      (texts) => texts.some((t) => t.includes(`Flag ${FLAG} ramp complete at 100 %`)),
      60_000,
    );
    sampling = false;
    await sampler;
    await load.stop();
    load = undefined;
    expect(seen).toEqual([10, 50, 100]);
    expect(await unleash.flag(FLAG, ENV)).toEqual({ enabled: true, rollouts: [100] });
    const texts = thread(world, first.parentTs).map((m) => m.text);
    expect(texts.some((t) => t.includes(`Flag ${FLAG} at 50 %: the analysis passed at 10 %`))).toBe(
      true,
    );
    expect(
      texts.some((t) => t.includes(`Flag ${FLAG} at 100 %: the analysis passed at 50 %`)),
    ).toBe(true);
    // By hand, a percentage is set at once and read back.
    expect(await world.command('U0DEV1', '/flag', `api ${FLAG} 30`)).toContain(
      `${FLAG} (unleash, production) is on for 30 % now`,
    );
    expect(await unleash.flag(FLAG, ENV)).toEqual({ enabled: true, rollouts: [30] });
  });

  it('refuses people outside operators or the flag role, and unknown flags, changing nothing', async () => {
    expect(await world.command('U0CTO', '/flag', `api ${FLAG} off`)).toContain(
      'You are not allowed to run /flag on api',
    );
    expect(await world.command('U0LEAD', '/flag', `api ${FLAG} 40`)).toContain(
      `Only team may change the flag ${FLAG}`,
    );
    expect(await world.command('U0LEAD', '/flag', 'api dark-mode 40')).toContain(
      'dark-mode (unleash, production) is on for 40 % now',
    );
    expect(await world.command('U0DEV1', '/flag', 'api no-such-flag off')).toContain(
      `Its flags: ${FLAG}, dark-mode`,
    );
    const missingEnv = await world.command('U0DEV1', '/flag', 'api dark-mode-eu on');
    expect(missingEnv).toContain(
      'Could not change dark-mode-eu (unleash, staging): Unleash has no flag dark-mode-eu with environment staging',
    );
    expect(missingEnv).toContain('Check that the flag and its environment exist in unleash');
    expect(await world.command('U0DEV1', '/flag', `api ${FLAG} 150`)).toContain(
      'is not a flag name followed by on, off, ramp or a percentage',
    );
    expect(await unleash.flag(FLAG, ENV)).toEqual({ enabled: true, rollouts: [30] });
  });

  it('/flag api new-checkout off has disabled the flag by the time it answers, and alerts', async () => {
    // A kill switch: any /flag operator may pull it, even outside the flag's role (lead here).
    const answer = await world.command('U0LEAD', '/flag', `api ${FLAG} off checkout errors`);
    expect(answer).toContain(`${FLAG} (unleash, production) is off now`);
    // Done before the answer, not queued behind a job: "off now" is already true in Unleash.
    expect((await unleash.flag(FLAG, ENV)).enabled).toBe(false);
    const alert = await eventually(
      () => world.slack.messages('C0ALERTS').find((m) => m.text.includes('[FLAG OFF]')),
      (m) => m !== undefined,
    );
    expect(textOf(alert)).toContain('checkout errors');
    expect(textOf(alert)).toContain('<@U0LEAD>');
    // Traffic was not touched by the kill switch.
    expect(await trafficSplit(world.haproxy.frontendUrl('api'))).toEqual({ green: 10 });
  });

  it('the Unleash adapter names what is wrong: a refused token, a missing flag or environment', async () => {
    const dispatcher = new Agent();
    const adapter = (token: string) =>
      new UnleashFlagProvider(
        { url: unleash.url, token, project: 'default', timeoutMs: 2000 },
        dispatcher,
      );
    const failure = (p: Promise<unknown>) =>
      p.then(
        () => 'ok',
        (e: FlagProviderError) => `${e.code}: ${e.message}`,
      );
    expect(
      await failure(adapter('*:*.wrong-token').disable({ name: FLAG, environment: ENV })),
    ).toMatch(/^refused: Unleash refused the token \(HTTP 40[13]\)/);
    expect(
      await failure(adapter(unleash.token).read({ name: 'no-such-flag', environment: ENV })),
    ).toMatch(/^not_found: Unleash has no flag no-such-flag in project default/);
    expect(await failure(adapter(unleash.token).read({ name: FLAG, environment: 'staging' }))).toBe(
      `not_found: Unleash flag ${FLAG} has no environment staging`,
    );
    // The flag exists; its environment does not: the answer must not say the flag is missing.
    for (const call of [
      (a: UnleashFlagProvider) => a.disable({ name: FLAG, environment: 'staging' }),
      (a: UnleashFlagProvider) => a.setPercent({ name: FLAG, environment: 'staging' }, 10),
    ])
      expect(await failure(call(adapter(unleash.token)))).toMatch(
        new RegExp(
          `^not_found: Unleash has no flag ${FLAG} with environment staging in project default \\(HTTP 404: .*environment staging`,
        ),
      );
    // A client (backend) token may read nothing and change nothing: refused, said so.
    const client = await unleash.clientToken();
    for (const call of [
      (a: UnleashFlagProvider) => a.disable({ name: FLAG, environment: ENV }),
      (a: UnleashFlagProvider) => a.setPercent({ name: FLAG, environment: ENV }, 10),
    ])
      expect(await failure(call(adapter(client)))).toMatch(
        /^refused: Unleash refused the token \(HTTP 403\): it needs an Admin API token/,
      );
    await dispatcher.close();
  });

  it('a kill switch while Unleash hangs is acknowledged at once, then answered with what failed', async () => {
    unleash.pause();
    try {
      const responseUrl = world.slack.newResponseUrl();
      const reply = await world.sender.slashCommand({
        command: '/flag',
        text: `api ${FLAG} off checkout errors`,
        user_id: 'U0LEAD',
        response_url: responseUrl,
      });
      // The empty ack is Slack's 3 s answer; the outcome follows through response_url.
      expect(reply.status).toBe(200);
      expect(reply.body).toBe('');
      const answer = String((await world.slack.waitForResponse(responseUrl, 20_000)).body.text);
      expect(answer).toContain(`Could not change ${FLAG} (unleash, production): Unleash at`);
      expect(answer).toContain('no answer in 3000 ms');
    } finally {
      await unleash.resume();
    }
  });

  it('an automatic rollback turns the release’s flags off before it moves traffic', async () => {
    await world.command('U0DEV1', '/flag', `api ${FLAG} 50`);
    await world.command('U0DEV1', '/flag', 'api dark-mode on');
    expect((await unleash.flag(FLAG, ENV)).enabled).toBe(true);
    // Sampled in this order, traffic back on blue while a flag is still on proves the wrong order.
    const samples: { blue: boolean; flagOn: boolean; darkOn: boolean }[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const split = await trafficSplit(world.haproxy.frontendUrl('api'), 2).catch(() => ({}));
        const [flag, dark] = await Promise.all([
          unleash.flag(FLAG, ENV),
          unleash.flag('dark-mode', ENV),
        ]);
        samples.push({
          blue: (split as Record<string, number>).blue !== undefined,
          flagOn: flag.enabled,
          darkOn: dark.enabled,
        });
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    load = loadLoop(world.haproxy.frontendUrl('api'), 3);
    world.services.api?.green.set({ errorRate: 0.5 });
    const alert = await restoredAlert(world);
    // Sample until traffic is seen back on blue, so the order check below has something to judge.
    await eventually(() => samples.some((s) => s.blue), Boolean);
    sampling = false;
    await sampler;
    await load.stop();
    load = undefined;
    world.services.api?.green.set({ errorRate: 0 });
    expect(textOf(alert)).toContain('automatic rollback');
    expect(textOf(alert)).toContain(`*Step 1, flags:* ${FLAG} off`);
    expect(textOf(alert)).toContain('*Step 2, traffic:* Complete');
    expect(samples.some((s) => s.blue)).toBe(true);
    expect(samples.filter((s) => s.blue && (s.flagOn || s.darkOn))).toEqual([]);
    expect(await unleash.flag(FLAG, ENV)).toMatchObject({ enabled: false });
    expect(await unleash.flag('dark-mode', ENV)).toMatchObject({ enabled: false });
    expect(await trafficSplit(world.haproxy.frontendUrl('api'))).toEqual({ blue: 10 });
  });

  it('with Unleash down, the traffic rollback still completes and the thread names the flags it could not change', async () => {
    const second = await bumpAndRequestRelease(world, '2.6.0', 'api 2.6.0');
    await world.click('U0DEV2', 'release_approve', second.id);
    await eventually(
      () => trafficSplit(world.haproxy.frontendUrl('api')),
      (split) => split.green === 10,
    );
    expect(await world.command('U0DEV1', '/flag', `api ${FLAG} on`)).toContain('is on (100 %) now');
    // What the release turned on is in Redis: a restarted Greenlight still turns it off first.
    await world.restart();
    const dryRun = await world.command('U0LEAD', '/rollback', 'api --dry-run');
    expect(dryRun).toMatch(/Step 1 \(mitigate\): turn off new-checkout[\s\S]*Step 2/);
    await unleash.kill();
    expect(await world.command('U0DEV1', '/flag', `api ${FLAG} off`)).toContain(
      `Could not change ${FLAG} (unleash, production): Unleash at`,
    );
    expect(await world.command('U0LEAD', '/rollback', 'api checkout broken')).toContain(
      'Rolling api back to 2.4.0 on blue',
    );
    await eventually(
      () => trafficSplit(world.haproxy.frontendUrl('api')),
      (split) => split.blue === 10,
    );
    const note = await eventually(
      () => thread(world, second.parentTs).find((m) => m.text.includes('could not turn off')),
      (m) => m !== undefined,
    );
    // The address is shown defused (no link), so match around it.
    expect(note?.text).toMatch(
      new RegExp(`could not turn off ${FLAG} \\(Unleash at .+ is unreachable`),
    );
    expect(note?.text).toContain('the traffic rollback, goes on');
    const alert = await restoredAlert(world, '2.6.0', 20_000);
    expect(textOf(alert)).toContain(`${FLAG} NOT changed`);
    expect(textOf(alert)).toContain('*Step 2, traffic:* Complete');
  });
});
