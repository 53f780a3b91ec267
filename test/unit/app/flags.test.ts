import { describe, expect, it } from 'vitest';
import { parseCommand } from '../../../src/adapters/slack/command-args.ts';
import type { FlagProvider } from '../../../src/app/flag-ports.ts';
import { ReleaseError } from '../../../src/app/release-error.ts';
import { runRollbackStep } from '../../../src/app/use-cases/rollback-traffic.ts';
import { setFlag } from '../../../src/app/use-cases/set-flag.ts';
import { type FlagChange, parseFlagChange } from '../../../src/domain/flags.ts';
import { transition } from '../../../src/domain/release-machine.ts';
import { apiConfig } from '../../../testkit/api-config.ts';
import { apiWorld } from '../../../testkit/api-world.ts';
import { memoryFlags } from '../../../testkit/memory-flags.ts';
import { releaseRecord, serviceRecord } from '../../../testkit/release-fixtures.ts';

const NOW = new Date('2026-11-24T10:00:00.000Z'); // a Tuesday, no freeze
const AT = NOW.toISOString();
const YAML = (extra = '') =>
  apiConfig({
    top: `${extra}
flagProviders:
  unleash: { url: "http://127.0.0.1:4242", timeoutMs: 200 }`,
    api: `    flags:
      - { name: new-checkout, environment: production, killSwitch: true, role: team }
      - { name: dark-mode, environment: production }`,
  });

function world(flags: FlagProvider, extra = '') {
  const w = apiWorld(YAML(extra), NOW, { production: 'green', operation: null });
  (w.deps as { flags?: FlagProvider }).flags = flags;
  w.releases.set('rel-1', releaseRecord(AT, { state: 'released', releasedAt: AT }));
  return w;
}

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (error) {
    if (error instanceof ReleaseError) return `${error.code}: ${error.message}`;
    throw error;
  }
}

/** `by` changes api's flag `flag` as /flag would. */
const flagTo = (w: ReturnType<typeof world>, flag: string, change: FlagChange, by: string) =>
  setFlag(w.deps, { service: 'api', flag, change, by });

describe('/flag parsing', () => {
  it.each([
    ['on', { kind: 'on' }],
    ['OFF', { kind: 'off' }],
    ['25', { kind: 'percent', percent: 25 }],
    ['25%', { kind: 'percent', percent: 25 }],
    ['0', { kind: 'off' }],
    ['100', { kind: 'percent', percent: 100 }],
    ['101', undefined],
    ['-5', undefined],
    ['half', undefined],
    [undefined, undefined],
  ])('%s → %j', (word, expected) => {
    expect(parseFlagChange(word)).toEqual(expected);
  });

  it('keeps the reason under the user-text rule and accepts --dry-run before it', () => {
    const parsed = parseCommand('flag', 'api new-checkout off --dry-run <!channel> *broken*', [
      'api',
    ]);
    expect(parsed).toMatchObject({ ok: true, request: { kind: 'flag', dryRun: true } });
    const reason = parsed.ok && parsed.request.kind === 'flag' ? parsed.request.reason : '';
    expect(reason).not.toContain('<!channel>');
    expect(parseCommand('flag', 'api new-checkout sideways', ['api'])).toEqual({
      ok: false,
      problem: { code: 'bad_flag_change', given: 'sideways' },
    });
    expect(parseCommand('flag', 'api $(rm -rf) on', ['api'])).toMatchObject({ ok: false });
  });
});

describe('flags on the release record', () => {
  it('records each flag’s latest state; ended releases refuse', () => {
    const live = releaseRecord(AT, { state: 'observing' });
    const once = transition(
      live,
      { type: 'flag_set', user: 'U0DEV2', name: 'a', percent: 10 },
      NOW,
    );
    const twice = transition(
      once.release,
      { type: 'flag_set', user: 'U0DEV2', name: 'a', percent: 50 },
      NOW,
    );
    expect(twice.release.flags?.map((f) => [f.name, f.percent])).toEqual([['a', 50]]);
    expect(twice.release.timeline.at(-1)?.what).toBe('flag a on for 50 %');
    expect(() =>
      transition(
        releaseRecord(AT, { state: 'rolled_back' }),
        { type: 'flag_set', user: 'U0DEV2', name: 'a', percent: 10 },
        NOW,
      ),
    ).toThrow();
  });
});

describe('setFlag', () => {
  it('needs the flag’s role, names the flags it knows, and changes nothing when refused', async () => {
    const flags = memoryFlags();
    const w = world(flags.provider);
    expect(await refusal(flagTo(w, 'new-checkout', { kind: 'on' }, 'U0LEAD'))).toBe(
      'not_allowed: Only team may change the flag new-checkout of api.',
    );
    expect(await refusal(flagTo(w, 'nope', { kind: 'on' }, 'U0DEV2'))).toContain(
      'has no flag called nope',
    );
    expect(flags.calls).toEqual([]);
  });

  it('lets any /flag operator pull a kill switch, outside the flag’s role', async () => {
    const flags = memoryFlags();
    const w = world(flags.provider);
    const answer = await flagTo(w, 'new-checkout', { kind: 'off' }, 'U0LEAD');
    expect(answer.message).toBe('new-checkout (unleash, production) is off now.');
    expect(flags.calls).toEqual(['disable new-checkout']);
  });

  it('turns a flag on or up only while the calendar is open; off always passes', async () => {
    const flags = memoryFlags();
    const w = world(flags.provider, 'blockedDays: [tue]');
    expect(
      await refusal(flagTo(w, 'dark-mode', { kind: 'percent', percent: 10 }, 'U0DEV2')),
    ).toMatch(/^frozen: api is closed for releases/);
    expect(flags.calls).toEqual([]);
    const answer = await flagTo(w, 'dark-mode', { kind: 'off' }, 'U0DEV2');
    expect(answer.message).toBe('dark-mode (unleash, production) is off now.');
    expect(flags.calls).toEqual(['disable dark-mode']);
  });

  it('records the change on the live release, so a restart knows what to turn off', async () => {
    const flags = memoryFlags();
    const w = world(flags.provider);
    await flagTo(w, 'dark-mode', { kind: 'percent', percent: 30 }, 'U0DEV2');
    expect(flags.state.get('dark-mode')).toEqual({ enabled: true, percent: 30 });
    expect(w.releases.get('rel-1')?.flags).toMatchObject([
      { name: 'dark-mode', percent: 30, by: 'U0DEV2' },
    ]);
    expect(w.audit.some((e) => e.what === 'flag dark-mode on for 30 %')).toBe(true);
  });

  it('says plainly when the provider is down, and leaves the flag off on the release', async () => {
    const w = world(memoryFlags({ down: ['dark-mode'] }).provider);
    expect(await refusal(flagTo(w, 'dark-mode', { kind: 'on' }, 'U0DEV2'))).toBe(
      'not_available: Could not change dark-mode (unleash, production): Unleash is unreachable (ECONNREFUSED).',
    );
    const release = w.releases.get('rel-1');
    expect(release?.flags?.map((f) => [f.name, f.percent])).toEqual([['dark-mode', 0]]);
    expect(release?.timeline.at(-1)?.what).toBe(
      'flag dark-mode off: the provider did not take the change',
    );
  });

  it('turning on is on the release before the provider is asked (a crash between leaves it for a rollback)', async () => {
    const flags = memoryFlags();
    const w = world(flags.provider);
    const seen: (number | undefined)[] = [];
    const setPercent = flags.provider.setPercent;
    flags.provider.setPercent = async (flag, percent) => {
      seen.push(w.releases.get('rel-1')?.flags?.find((f) => f.name === flag.name)?.percent);
      return setPercent(flag, percent);
    };
    await flagTo(w, 'dark-mode', { kind: 'percent', percent: 20 }, 'U0DEV2');
    expect(seen).toEqual([20]);
  });

  it('a rollback that starts while a flag is being turned on wins: the flag is turned off again', async () => {
    const flags = memoryFlags();
    const w = world(flags.provider);
    const setPercent = flags.provider.setPercent;
    flags.provider.setPercent = async (flag, percent) => {
      // The rollback commits (and its step may already have mitigated) during the provider call.
      const live = w.releases.get('rel-1');
      if (live)
        w.releases.set('rel-1', { ...live, state: 'rolling_back', revision: live.revision + 1 });
      return setPercent(flag, percent);
    };
    expect(await refusal(flagTo(w, 'dark-mode', { kind: 'on' }, 'U0DEV2'))).toBe(
      'release_in_progress: api 2.4.1 started rolling back meanwhile: dark-mode was turned off again.',
    );
    expect(flags.state.get('dark-mode')?.enabled).toBe(false);
    expect(flags.calls).toEqual(['percent dark-mode', 'enable dark-mode', 'disable dark-mode']);
  });

  it('refuses turning a flag on while the release rolls back', async () => {
    const flags = memoryFlags();
    const w = world(flags.provider);
    w.releases.set('rel-1', releaseRecord(AT, { state: 'rolling_back' }));
    expect(await refusal(flagTo(w, 'dark-mode', { kind: 'on' }, 'U0DEV2'))).toBe(
      'release_in_progress: api 2.4.1 is rolling back: its flags stay off until that ends.',
    );
    expect(flags.calls).toEqual([]);
  });
});

describe('rollback with flags', () => {
  const rollingBack = (w: ReturnType<typeof world>) => {
    w.services.set('api', serviceRecord(AT, { production: 'green' }));
    w.weights.blue = 0;
    w.weights.green = 100;
    w.releases.set(
      'rel-1',
      releaseRecord(AT, {
        state: 'rolling_back',
        rollback: { by: 'U0LEAD', reason: 'errors', at: AT },
        flags: [
          { name: 'new-checkout', percent: 50, by: 'U0DEV2', at: AT },
          { name: 'dark-mode', percent: 100, by: 'U0DEV2', at: AT },
        ],
      }),
    );
  };

  it('turns every flag off, then moves traffic, even when one provider call hangs', async () => {
    const flags = memoryFlags({ hang: ['new-checkout'] });
    const w = world(flags.provider);
    rollingBack(w);
    const started = Date.now();
    await runRollbackStep(w.deps, { releaseId: 'rel-1', attempt: 3 });
    // Bounded by the provider's timeoutMs (200) and a guard: the hang never holds traffic.
    expect(Date.now() - started).toBeLessThan(2000);
    expect(w.weights).toEqual({ blue: 100, green: 0 });
    const done = w.releases.get('rel-1');
    expect(done?.state).toBe('rolled_back');
    expect(done?.rollback?.flags).toEqual([
      { name: 'new-checkout', ok: false, detail: 'no answer in 700 ms' },
      { name: 'dark-mode', ok: true, detail: 'off' },
    ]);
    // What was turned off is off on the record; what could not be stays listed as on.
    expect(done?.flags?.map((f) => [f.name, f.percent])).toEqual([
      ['new-checkout', 50],
      ['dark-mode', 0],
    ]);
    expect(
      w.posts.some((p) => p.includes('could not turn off new-checkout (no answer in 700 ms)')),
    ).toBe(true);
  });

  it('a duplicate delivery of the rollback step turns no flag off twice', async () => {
    const flags = memoryFlags();
    const w = world(flags.provider);
    rollingBack(w);
    await runRollbackStep(w.deps, { releaseId: 'rel-1', attempt: 3 });
    expect(flags.calls.sort()).toEqual(['disable dark-mode', 'disable new-checkout']);
    // A duplicate delivery of the same step finds the release rolled back and does nothing.
    await runRollbackStep(w.deps, { releaseId: 'rel-1', attempt: 3 });
    expect(flags.calls).toHaveLength(2);
  });
});

describe('flag ramp', () => {
  const observing = () =>
    releaseRecord(AT, {
      state: 'observing',
      type: 'minor',
      requiredRoles: ['team'],
      observeUntil: new Date(NOW.getTime() + 60_000).toISOString(),
    });

  it('extends the stability window over every step, and each step moves once (fenced)', () => {
    const started = transition(
      observing(),
      { type: 'flag_ramp', user: 'U0DEV2', name: 'a', steps: [10, 50, 100], holdMinutes: 10 },
      NOW,
    ).release;
    // Three steps of 10 min and the last hold: the window ends no sooner than 40 min from now.
    expect(Date.parse(started.observeUntil ?? '')).toBe(NOW.getTime() + 40 * 60_000);
    expect(started.flags?.map((f) => f.percent)).toEqual([10]);
    const later = new Date(NOW.getTime() + 11 * 60_000);
    const step = { type: 'flag_ramp_step', stepStartedAt: AT } as const;
    const once = transition(started, step, later).release;
    expect(once.flagRamp?.stepIndex).toBe(1);
    expect(once.flags?.map((f) => f.percent)).toEqual([50]);
    // The same decision delivered again (a second worker, a retried job) changes nothing.
    expect(transition(once, step, later).release).toBe(once);
  });

  it('is an approval: not the requester, a role the release needs, and only in the stability window', async () => {
    const flags = memoryFlags();
    const w = world(flags.provider);
    w.releases.set('rel-1', observing());
    const ramp = (by: string) => refusal(flagTo(w, 'dark-mode', { kind: 'ramp' }, by));
    expect(await ramp('U0DEV1')).toMatch(/^not_allowed: Starting a flag ramp is an approval/);
    expect(await ramp('U0DEV2')).toBe('ok');
    expect(w.releases.get('rel-1')?.flagRamp).toMatchObject({ name: 'dark-mode', stepIndex: 0 });
    expect(flags.state.get('dark-mode')).toEqual({ enabled: true, percent: 100 });
    w.releases.set('rel-1', releaseRecord(AT, { state: 'released', requiredRoles: ['team'] }));
    expect(await ramp('U0DEV2')).toMatch(
      /^not_available: A flag ramp runs in a release's stability window/,
    );
  });
});
