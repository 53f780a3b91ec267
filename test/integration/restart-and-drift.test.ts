import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  eventually,
  type ReleaseWorld,
  startReleaseWorld,
  trafficSplit,
} from '../../testkit/release-world.ts';

describe('state survives restarts, HAProxy drift is corrected, re-run steps do nothing twice', () => {
  let world: ReleaseWorld;
  let releaseId = '';

  beforeAll(async () => {
    world = await startReleaseWorld();
  });
  afterAll(async () => world?.close());

  it('keeps a pending release across a restart and corrects HAProxy drift at start-up', async () => {
    await world.command('U0DEV1', '/bump', 'api');
    await eventually(
      () =>
        world.slack
          .messages('C0RELEASES')
          .find((m) => m.text.includes('2.4.1 is on STANDBY (green), healthy')),
      (m) => m !== undefined,
    );
    await world.command('U0DEV1', '/release', 'api');
    const parent = await eventually(
      () =>
        world.slack
          .messages('C0RELEASES')
          .find((m) => JSON.stringify(m.blocks).includes('release_approve')),
      (m) => m !== undefined,
    );
    releaseId = JSON.stringify(parent?.blocks).match(/"value":"(rel-[^":]+)/)?.[1] ?? '';

    // Someone (or an HAProxy reload with an old config) sends traffic to both slots.
    await world.haproxy.command('set weight api/green 100');
    expect(Object.keys(await trafficSplit(world.haproxy.frontendUrl('api'), 10)).sort()).toEqual([
      'blue',
      'green',
    ]);

    await world.restart();
    const drift = await eventually(
      () => world.slack.messages('C0RELEASES').find((m) => m.text.includes('Traffic drift')),
      (m) => m !== undefined,
    );
    // The report names both: what the proxy did, and what Greenlight wants and why.
    expect(drift?.text).toContain(
      'HAProxy sent api traffic to blue + green (blue 50 %, green 50 %)',
    );
    expect(drift?.text).toContain('Greenlight wants blue only: PRODUCTION is blue');
    expect(await trafficSplit(world.haproxy.frontendUrl('api'))).toEqual({ blue: 10 });

    // The approval request made before the restart still works.
    expect(await world.click('U0LEAD', 'release_approve', releaseId)).toContain(
      'switching api to green',
    );
    await eventually(
      () => trafficSplit(world.haproxy.frontendUrl('api')),
      (split) => split.green === 10,
    );
  });

  it('does nothing when BullMQ delivers a finished step again (as after a worker crash)', async () => {
    await eventually(
      () => world.slack.messages('C0RELEASES').find((m) => m.text.includes('New PRODUCTION')),
      (m) => m !== undefined,
    );
    const messagesBefore = world.slack.messages().length;
    const editsBefore = world.slack.messages().reduce((n, m) => n + m.edits, 0);
    const haproxyBefore = await world.haproxy.serverStates('api');

    const connection = new Redis(world.redis.url, { maxRetriesPerRequest: null });
    const steps = new Queue('steps', { connection, prefix: `{${world.redis.keyPrefix}}` });
    const rerun = await steps.add(
      'switch',
      { v: 1, releaseId },
      { jobId: `${releaseId}-switch-rerun` },
    );
    await eventually(
      () => rerun.getState(),
      (state) => state === 'completed',
    );
    await steps.close();
    connection.disconnect();

    expect(await world.haproxy.serverStates('api')).toEqual(haproxyBefore);
    expect(await trafficSplit(world.haproxy.frontendUrl('api'))).toEqual({ green: 10 });
    await new Promise((r) => setTimeout(r, 300));
    expect(world.slack.messages().length).toBe(messagesBefore);
    expect(world.slack.messages().reduce((n, m) => n + m.edits, 0)).toBe(editsBefore);
  });

  it('rejects job data it does not understand instead of guessing', async () => {
    const connection = new Redis(world.redis.url, { maxRetriesPerRequest: null });
    const steps = new Queue('steps', { connection, prefix: `{${world.redis.keyPrefix}}` });
    const bad = await steps.add('switch', { v: 99, release: 'x' }, { jobId: 'bad-data-1' });
    await eventually(
      () => bad.getState(),
      (state) => state === 'failed',
    );
    const failed = await steps.getJob('bad-data-1');
    expect(failed?.failedReason).toContain('invalid data');
    expect(failed?.attemptsMade).toBe(1);
    await steps.close();
    connection.disconnect();
  });
});
