import { describe, expect, it } from 'vitest';
import { releaseStatus } from '../../../src/app/use-cases/release-status.ts';
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
