import { describe, expect, it } from 'vitest';
import { releaseStatus } from '../../../src/app/use-cases/release-status.ts';
import type { SlotState } from '../../../src/domain/service-state.ts';
import { apiConfig } from '../../../testkit/api-config.ts';
import { apiWorld } from '../../../testkit/api-world.ts';
import { releaseRecord } from '../../../testkit/release-fixtures.ts';

const NOW = new Date('2026-11-24T10:00:00.000Z');
const AT = NOW.toISOString();
const CONFIG = apiConfig({ strategy: 'canary' });

/** `/release status api`'s HAProxy line with the proxy at `green` % on green. */
async function haproxyLine(green: number, stepIndex: number | undefined): Promise<string> {
  const world = apiWorld(CONFIG, NOW);
  world.releases.set(
    'rel-1',
    releaseRecord(AT, {
      strategy: 'canary',
      state: stepIndex === undefined ? 'released' : 'ramping',
      approvals: [{ role: 'lead', user: 'U0LEAD', at: AT }],
      ...(stepIndex === undefined
        ? {}
        : { canary: { steps: [20, 100], stepIndex, stepStartedAt: AT } }),
    }),
  );
  world.weights.green = green;
  world.weights.blue = 100 - green;
  const details = (await releaseStatus(world.deps, { service: 'api' })).details?.join('\n') ?? '';
  return details.split('\n').find((line) => line.startsWith('HAProxy:')) ?? '';
}

describe('/release status: drift is measured against what the release wants', () => {
  it('a canary at its step is not drift, though traffic reaches both slots', async () => {
    const line = await haproxyLine(20, 0);
    expect(line).toContain('traffic to blue + green');
    expect(line).not.toContain('drift');
  });

  it('a canary whose proxy lost the split is drift, saying what the release wants', async () => {
    expect(await haproxyLine(0, 0)).toContain('(drift: release 2.4.1 ramps to 20 % on green)');
  });

  it('without a live release, traffic on both slots is drift from PRODUCTION', async () => {
    expect(await haproxyLine(20, undefined)).toContain('(drift: PRODUCTION is blue)');
  });
});

describe('/release status during a rollback', () => {
  /** The status lines of api while 2.4.1 rolls back onto blue, whose record is `blue`. */
  const lines = async (blue: SlotState, failure?: string, now = NOW) => {
    const world = apiWorld(apiConfig(), now, {
      production: 'green',
      slots: { blue, green: { version: '2.4.1', health: 'healthy', updatedAt: AT } },
    });
    world.releases.set(
      'rel-1',
      releaseRecord(AT, {
        state: 'rolling_back',
        stateSince: AT,
        releasedAt: AT,
        rollback: { by: 'U0LEAD', reason: 'errors', at: AT, attempt: 3 },
        ...(failure === undefined ? {} : { failure }),
      }),
    );
    const details = (await releaseStatus(world.deps, { service: 'api' })).details?.join('\n');
    return details?.split('\n') ?? [];
  };
  const status = async (failure?: string, now = NOW, blueVersion = '2.4.0') =>
    (await lines({ version: blueVersion, health: 'healthy', updatedAt: AT }, failure, now)).find(
      (line) => line.startsWith('Release under way:'),
    );

  it('says a rollback is under way', async () => {
    expect(await status()).toBe('Release under way: 2.4.0 → 2.4.1 (patch) rolling back: under way');
  });

  it('says a failed rollback failed, why, and when it is tried again (switchMinutes: 5)', async () => {
    expect(await status('HAProxy Runtime API: connection refused')).toBe(
      'Release under way: 2.4.0 → 2.4.1 (patch) rolling back: failed (HAProxy Runtime API: connection refused); Greenlight tries it again at 10:05 UTC, or now with /rollback api <reason>',
    );
  });

  it('says "shortly" once the retry is due', async () => {
    expect(await status('proxy down', new Date('2026-11-24T10:07:00.000Z'))).toContain(
      'failed (proxy down); Greenlight tries it again shortly, or now with /rollback api <reason>',
    );
  });

  it('says when the old slot is being redeployed first, and where users are meanwhile', async () => {
    // A /bump of 2.5.0 onto blue was preempted: the rollback deploys 2.4.0 there again.
    expect(await status(undefined, NOW, '2.5.0')).toBe(
      'Release under way: 2.4.0 → 2.4.1 (patch) rolling back: under way, deploying 2.4.0 onto blue first (users stay on green)',
    );
  });

  it('names STANDBY as not running what was recorded while the rollback redeploys it', async () => {
    const blue: SlotState = {
      version: null,
      health: 'unknown',
      note: 'does not report the version Greenlight recorded',
      updatedAt: AT,
    };
    expect((await lines(blue)).find((line) => line.startsWith('STANDBY:'))).toMatch(
      /^STANDBY: blue version unknown \(does not report the version Greenlight recorded\) · /,
    );
  });
});
