import { describe, expect, it } from 'vitest';
import { flagMessage } from '../../../src/adapters/slack/blocks/flag-messages.ts';
import { parseCommand } from '../../../src/adapters/slack/command-args.ts';
import type { FlagProvider } from '../../../src/app/flag-ports.ts';
import { ReleaseError } from '../../../src/app/release-error.ts';
import { advanceFlagRamp } from '../../../src/app/use-cases/flag-ramp.ts';
import { requestRollback } from '../../../src/app/use-cases/rollback.ts';
import { runRollbackStep } from '../../../src/app/use-cases/rollback-traffic.ts';
import { setFlag } from '../../../src/app/use-cases/set-flag.ts';
import type { FlagChange } from '../../../src/domain/flags.ts';
import { transition } from '../../../src/domain/release-machine.ts';
import { apiConfig } from '../../../testkit/api-config.ts';
import { apiWorld } from '../../../testkit/api-world.ts';
import { memoryFlags } from '../../../testkit/memory-flags.ts';
import { releaseRecord } from '../../../testkit/release-fixtures.ts';

const NOW = new Date('2026-11-24T10:00:00.000Z'); // a Tuesday, no freeze
const AT = NOW.toISOString();
const HOLD_MS = 10 * 60_000; // canary.holdMinutes' default: each ramp step's hold
const PASS = { verdict: 'pass' } as const;
const YAML = apiConfig({
  top: `flagProviders:
  unleash: { url: "http://127.0.0.1:4242", timeoutMs: 200 }`,
  api: `    flags:
      - { name: new-checkout, environment: production, rollout: [10, 50, 100], killSwitch: true }`,
});

/** A minor release in its stability window, requested by U0DEV1, approved by team (U0DEV2). */
function world(provider: FlagProvider, changes: Parameters<typeof releaseRecord>[1] = {}) {
  const w = apiWorld(YAML, NOW, { production: 'green', operation: null });
  (w.deps as { flags?: FlagProvider }).flags = provider;
  w.releases.set(
    'rel-1',
    releaseRecord(AT, {
      state: 'observing',
      type: 'minor',
      requiredRoles: ['team'],
      releasedAt: AT,
      observeUntil: new Date(NOW.getTime() + 30 * 60_000).toISOString(),
      ...changes,
    }),
  );
  return w;
}

const flag = (w: ReturnType<typeof world>, change: FlagChange, by: string, dryRun = false) =>
  setFlag(w.deps, { service: 'api', flag: 'new-checkout', change, by, dryRun });

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (error) {
    if (error instanceof ReleaseError) return `${error.code}: ${error.message} | ${error.hint}`;
    throw error;
  }
}

/** One passing analysis reading after each step's hold, as the analysis loop calls it. */
async function passingReadingAfterHold(w: ReturnType<typeof world>): Promise<void> {
  w.clock.advance(HOLD_MS + 1000);
  const release = w.releases.get('rel-1');
  if (release) await advanceFlagRamp(w.deps, release, PASS);
}

describe('flag ramp under attack', () => {
  it('a kill switch pulled during a ramp stops it: the next passing reading does not turn the flag back on', async () => {
    const flags = memoryFlags();
    const w = world(flags.provider);
    expect(await refusal(flag(w, { kind: 'ramp' }, 'U0DEV2'))).toBe('ok');
    expect(flags.state.get('new-checkout')).toEqual({ enabled: true, percent: 10 });
    await flag(w, { kind: 'off' }, 'U0LEAD');
    expect(flags.state.get('new-checkout')?.enabled).toBe(false);
    await passingReadingAfterHold(w);
    await passingReadingAfterHold(w);
    expect(flags.state.get('new-checkout')?.enabled).toBe(false);
    const release = w.releases.get('rel-1');
    expect(release?.flagRamp).toBeUndefined();
    expect(release?.flags?.map((f) => [f.name, f.percent])).toEqual([['new-checkout', 0]]);
    expect(release?.timeline.map((t) => t.what)).toContain(
      'flag new-checkout off: the ramp stopped at 10 %',
    );
  });

  it('a percentage set by hand during a ramp ends the ramp there', async () => {
    const flags = memoryFlags();
    const w = world(flags.provider);
    await flag(w, { kind: 'ramp' }, 'U0DEV2');
    await flag(w, { kind: 'percent', percent: 25 }, 'U0DEV2');
    await passingReadingAfterHold(w);
    expect(flags.state.get('new-checkout')).toEqual({ enabled: true, percent: 25 });
    expect(w.releases.get('rel-1')?.flagRamp).toBeUndefined();
  });

  it('a ramp is on the release before the provider is asked (a crash between leaves it for a rollback)', async () => {
    const flags = memoryFlags();
    const w = world(flags.provider);
    const seen: unknown[] = [];
    const setPercent = flags.provider.setPercent;
    flags.provider.setPercent = async (ref, percent) => {
      const release = w.releases.get('rel-1');
      seen.push([
        release?.flagRamp?.name,
        release?.flags?.find((f) => f.name === ref.name)?.percent,
      ]);
      return setPercent(ref, percent);
    };
    await flag(w, { kind: 'ramp' }, 'U0DEV2');
    expect(seen).toEqual([['new-checkout', 10]]);
  });

  it('a ramp the provider refuses leaves no ramp and the flag recorded as it was', async () => {
    const w = world(memoryFlags({ down: ['new-checkout'] }).provider);
    expect(await refusal(flag(w, { kind: 'ramp' }, 'U0DEV2'))).toMatch(
      /^not_available: Could not start the ramp of new-checkout: Unleash is unreachable/,
    );
    const release = w.releases.get('rel-1');
    expect(release?.flagRamp).toBeUndefined();
    expect(release?.flags?.map((f) => [f.name, f.percent])).toEqual([['new-checkout', 0]]);
    // Nothing ramps later either: a passing reading does not touch the flag.
    await passingReadingAfterHold(w);
    expect(w.releases.get('rel-1')?.flagRamp).toBeUndefined();
  });

  it('a stability window that ends mid-ramp stops the ramp where it is, and the thread says so', () => {
    const started = transition(
      world(memoryFlags().provider).releases.get('rel-1') ?? releaseRecord(AT),
      {
        type: 'flag_ramp',
        user: 'U0DEV2',
        name: 'new-checkout',
        steps: [10, 50, 100],
        holdMinutes: 10,
      },
      NOW,
    ).release;
    const ended = transition(
      started,
      { type: 'observed', verdict: 'not enough traffic to judge' },
      new Date(NOW.getTime() + 60 * 60_000),
    ).release;
    expect(ended.state).toBe('released');
    expect(ended.flagRamp).toBeUndefined();
    expect(ended.flags?.map((f) => [f.name, f.percent])).toEqual([['new-checkout', 10]]);
    expect(ended.timeline.at(-1)?.what).toContain(
      'the ramp of flag new-checkout stopped at 10 % (set it by hand: /flag api new-checkout <percent>)',
    );
  });
});

describe('/flag answers', () => {
  it('a dry run of a ramp is refused as the ramp itself would be, and changes nothing', async () => {
    const flags = memoryFlags();
    const w = world(flags.provider, { state: 'released' });
    expect(await refusal(flag(w, { kind: 'ramp' }, 'U0DEV2', true))).toMatch(
      /^not_available: A flag ramp runs in a release's stability window/,
    );
    const observing = world(flags.provider);
    expect(await refusal(flag(observing, { kind: 'ramp' }, 'U0DEV1', true))).toMatch(
      /^not_allowed: Starting a flag ramp is an approval/,
    );
    const answer = await flag(observing, { kind: 'ramp' }, 'U0DEV2', true);
    expect(answer.details).toEqual([
      'Would start the ramp of new-checkout (unleash, production): 10 → 50 → 100 %, 10 min per step, moving on while the analysis passes.',
    ]);
    expect(flags.calls).toEqual([]);
    expect(observing.releases.get('rel-1')?.flagRamp).toBeUndefined();
  });

  it('a dry run of turning a flag on while the release rolls back is refused as the real one is', async () => {
    const flags = memoryFlags();
    const w = world(flags.provider, { state: 'rolling_back' });
    expect(await refusal(flag(w, { kind: 'on' }, 'U0DEV2', true))).toMatch(
      /^release_in_progress: api 2.4.1 is rolling back/,
    );
    expect(flags.calls).toEqual([]);
  });

  it('a token the provider refuses: the answer says to fix the token, not to try again later', async () => {
    const w = world(memoryFlags({ refused: ['new-checkout'] }).provider);
    const answer = await refusal(flag(w, { kind: 'percent', percent: 20 }, 'U0DEV2'));
    expect(answer).toMatch(/^not_available: Could not change new-checkout .*HTTP 403/);
    expect(answer).toContain(
      'Nothing was changed. The token in flagProviders.unleash.tokenEnv needs the rights the README names',
    );
    expect(answer).not.toContain('Try again once the provider answers');
  });
});

describe('flag ramp races', () => {
  it('a kill switch that lands while a ramp step is being applied wins: the flag ends off', async () => {
    const flags = memoryFlags();
    const w = world(flags.provider);
    await flag(w, { kind: 'ramp' }, 'U0DEV2');
    const setPercent = flags.provider.setPercent;
    flags.provider.setPercent = async (ref, percent) => {
      // The kill switch commits and reaches the provider while the step's own calls are in flight.
      flags.provider.setPercent = setPercent;
      await flag(w, { kind: 'off' }, 'U0LEAD');
      return setPercent(ref, percent);
    };
    await passingReadingAfterHold(w);
    expect(flags.state.get('new-checkout')?.enabled).toBe(false);
    expect(w.releases.get('rel-1')?.flags?.map((f) => f.percent)).toEqual([0]);
    expect(w.releases.get('rel-1')?.flagRamp).toBeUndefined();
  });
});

describe('what held', () => {
  it('two releases in a row: the second’s rollback turns off only the flags the second turned on', async () => {
    const flags = memoryFlags();
    const w = world(flags.provider);
    w.weights.blue = 0;
    w.weights.green = 100;
    w.releases.set(
      'rel-0',
      releaseRecord('2026-11-23T10:00:00.000Z', {
        id: 'rel-0',
        state: 'released',
        version: '2.4.0',
        fromVersion: '2.3.0',
        flags: [{ name: 'dark-mode', percent: 100, by: 'U0DEV2', at: AT }],
      }),
    );
    w.releases.set(
      'rel-1',
      releaseRecord(AT, {
        state: 'rolling_back',
        rollback: { by: 'U0LEAD', reason: 'errors', at: AT },
        flags: [{ name: 'new-checkout', percent: 50, by: 'U0DEV2', at: AT }],
      }),
    );
    await runRollbackStep(w.deps, { releaseId: 'rel-1', attempt: 3 });
    expect(flags.calls).toEqual(['disable new-checkout']);
    expect(w.weights).toEqual({ blue: 100, green: 0 });
  });

  it('a lost release record: the kill switch still turns the flag off and alerts, needing no release', async () => {
    const flags = memoryFlags();
    const w = world(flags.provider);
    w.releases.delete('rel-1');
    const answer = await flag(w, { kind: 'off' }, 'U0LEAD');
    expect(answer.message).toBe('new-checkout (unleash, production) is off now.');
    expect(flags.calls).toEqual(['disable new-checkout']);
    expect(w.posts).toContain('flagChanged: ');
  });

  it('a reason can neither mention nor link, in the alert or the thread', async () => {
    const flags = memoryFlags();
    const w = world(flags.provider);
    const parsed = parseCommand(
      'flag',
      'api new-checkout off <!channel> see <https://evil.example|here> @here',
      ['api'],
    );
    if (!parsed.ok || parsed.request.kind !== 'flag') throw new Error('not parsed');
    await setFlag(w.deps, { ...parsed.request, by: 'U0LEAD' });
    const alert = flagMessage(
      {
        service: 'api',
        flag: 'new-checkout',
        environment: 'production',
        by: 'U0LEAD',
        percent: 0,
        ...(parsed.request.reason ? { reason: parsed.request.reason } : {}),
      },
      true,
    );
    const shown = [
      alert.text,
      JSON.stringify(alert.blocks),
      ...(w.releases.get('rel-1')?.timeline.map((t) => t.what) ?? []),
    ];
    expect(shown.some((p) => p.includes('see'))).toBe(true);
    for (const text of shown) {
      expect(text).not.toMatch(/<!channel>|<https?:|https:\/\/evil/);
    }
  });
});

describe('a lost release key while /flag runs', () => {
  it('turning a flag on that cannot be recorded on the live release changes nothing at the provider', async () => {
    const flags = memoryFlags();
    const w = world(flags.provider, { state: 'released' });
    const getRelease = w.deps.store.getRelease.bind(w.deps.store);
    let reads = 0;
    // The first read finds the live release; its key is lost before the change is recorded.
    (w.deps.store as { getRelease: typeof getRelease }).getRelease = async (id) =>
      reads++ === 0 ? getRelease(id) : null;
    expect(await refusal(flag(w, { kind: 'percent', percent: 40 }, 'U0DEV2'))).toMatch(
      /^not_available: Could not record new-checkout on api 2.4.1, so it was not changed/,
    );
    expect(flags.calls).toEqual([]);
  });
});

describe('/flag percentages as typed', () => {
  it.each([
    ['101', false],
    ['-1', false],
    ['1e2', false],
    ['50.5', false],
    ['+50', false],
    ['0x32', false],
    ['50%', true],
    ['100', true],
  ])('%s accepted: %s', (word, accepted) => {
    const parsed = parseCommand('flag', `api new-checkout ${word}`, ['api']);
    expect(parsed.ok).toBe(accepted);
    if (!accepted)
      expect(parsed).toEqual({ ok: false, problem: { code: 'bad_flag_change', given: word } });
  });
});

describe('/rollback with the release record lost', () => {
  it('turns nothing off (it cannot know what), and says how to pull the flags by hand', async () => {
    const flags = memoryFlags();
    const w = world(flags.provider);
    w.releases.delete('rel-1');
    expect(
      await refusal(requestRollback(w.deps, { service: 'api', by: 'U0LEAD', reason: 'errors' })),
    ).toBe(
      'not_available: api has no release to roll back. | See /release status api. Its flags (new-checkout) are not turned off without a release: /flag api <flag> off',
    );
    expect(flags.calls).toEqual([]);
  });
});
