import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  eventually,
  loadLoop,
  type ReleaseWorld,
  startReleaseWorld,
  trafficSplit,
} from '../../testkit/release-world.ts';
import type { EmulatedMessage } from '../../testkit/slack-emulator.ts';

const ACTION = {
  approve: 'release_approve',
  reject: 'release_reject',
  rollback: 'release_rollback',
};

function textOf(message: EmulatedMessage | undefined): string {
  return message === undefined ? '' : `${message.text}\n${JSON.stringify(message.blocks)}`;
}

/** The newest release id on a parent message's buttons or context line. */
function latestReleaseId(world: ReleaseWorld): string {
  const parents = world.slack
    .messages('C0RELEASES')
    .filter((m) => m.thread_ts === undefined && /Release rel-/.test(textOf(m)));
  const match = textOf(parents.at(-1)).match(/Release (rel-[a-z0-9-]+)/);
  if (!match?.[1]) throw new Error('no release message yet');
  return match[1];
}

function parentOf(world: ReleaseWorld, releaseId: string): EmulatedMessage | undefined {
  return world.slack
    .messages('C0RELEASES')
    .find((m) => m.thread_ts === undefined && textOf(m).includes(`Release ${releaseId}`));
}

function threadOf(world: ReleaseWorld, releaseId: string): EmulatedMessage[] {
  const parent = parentOf(world, releaseId);
  return world.slack
    .messages('C0RELEASES')
    .filter((m) => parent !== undefined && m.thread_ts === parent.ts);
}

describe('the blue/green workflow end to end: /bump, /release, approval, /sync, /rollback', () => {
  let world: ReleaseWorld;
  let load: ReturnType<typeof loadLoop>;
  let front: string;

  beforeAll(async () => {
    world = await startReleaseWorld();
    front = world.haproxy.frontendUrl('api');
    load = loadLoop(front);
  });

  afterAll(async () => {
    await load?.stop();
    await world?.close();
  });

  it('deploys the next patch to STANDBY with /bump and reports it in the channel, traffic untouched', async () => {
    const answer = await world.command('U0DEV1', '/bump', 'api');
    expect(answer).toContain('Deploying api 2.4.1 (patch) to STANDBY (green)');
    const done = await eventually(
      () =>
        world.slack
          .messages('C0RELEASES')
          .find((m) => m.text.includes('2.4.1 is on STANDBY (green), healthy')),
      (m) => m !== undefined,
    );
    expect(textOf(done)).toContain('/release api');
    expect(world.services.api?.green.state.version).toBe('2.4.1');
    expect(await trafficSplit(front)).toEqual({ blue: 10 });
  });

  it('asks for approval on /release and moves no traffic before a valid approval', async () => {
    const answer = await world.command('U0DEV1', '/release', 'api');
    expect(answer).toContain('Release of api 2.4.0 → 2.4.1 (patch) requested');
    expect(answer).toContain('lead');
    const id = await eventually(
      () => {
        try {
          return latestReleaseId(world);
        } catch {
          return '';
        }
      },
      (v) => v !== '',
    );
    const parent = parentOf(world, id);
    expect(textOf(parent)).toContain('api 2.4.0 → 2.4.1 (patch)');
    expect(textOf(parent)).toContain('Waiting for approval');
    expect(textOf(parent)).toContain(ACTION.approve);

    expect(await world.click('U0DEV1', ACTION.approve, id)).toContain('You requested this release');
    expect(await world.click('U0DEV2', ACTION.approve, id)).toContain('needs approval from lead');
    expect(await trafficSplit(front)).toEqual({ blue: 10 });
  });

  it('switches traffic once the lead approves, and reports the new PRODUCTION and STANDBY', async () => {
    const id = latestReleaseId(world);
    expect(await world.click('U0LEAD', ACTION.approve, id)).toContain('switching api to green');
    const report = await eventually(
      () => threadOf(world, id).find((m) => m.text.includes('New PRODUCTION')),
      (m) => m !== undefined,
    );
    expect(textOf(report)).toContain('Switch HAProxy traffic: blue → green');
    expect(textOf(report)).toContain(
      `New PRODUCTION: green (${world.services.api?.green.url}) - v2.4.1`,
    );
    expect(textOf(report)).toContain('New STANDBY: blue');
    expect(textOf(report)).toContain('/sync api');
    expect(await trafficSplit(front)).toEqual({ green: 10 });
    const parent = await eventually(
      () => parentOf(world, id),
      (m) => textOf(m).includes('Released'),
    );
    expect(textOf(parent)).not.toContain(ACTION.approve);
    expect(textOf(parent)).toContain(ACTION.rollback);
    expect(await world.click('U0LEAD', ACTION.approve, id)).toContain('was released');
  });

  it('brings STANDBY up to production with /sync', async () => {
    // Slack rate-limits the next message and then fails one with a 503: both still arrive, in order.
    world.slack.rateLimitNext('chat.postMessage', 1);
    world.slack.serverErrorNext('chat.update', 503);
    expect(await world.command('U0DEV1', '/sync', 'api')).toContain(
      "Syncing STANDBY (blue) of api to PRODUCTION's 2.4.1",
    );
    await eventually(
      () =>
        world.slack
          .messages('C0RELEASES')
          .find((m) => m.text.includes('STANDBY (blue) of api is in sync')),
      (m) => m !== undefined,
    );
    expect(world.services.api?.blue.state.version).toBe('2.4.1');
    expect(await trafficSplit(front)).toEqual({ green: 10 });
    // The release message shows both slots: after /sync its STANDBY line tells the truth too.
    const released = latestReleaseId(world);
    await eventually(
      () => textOf(parentOf(world, released)),
      (text) => text.includes('blue · 2.4.1 · healthy'),
    );
  });

  it('releases a minor version with a team approval, then rolls back at once with an alert', async () => {
    expect(await world.command('U0DEV1', '/bump', 'api minor')).toContain(
      'Deploying api 2.5.0 (minor) to STANDBY (blue)',
    );
    await eventually(
      () =>
        world.slack
          .messages('C0RELEASES')
          .find((m) => m.text.includes('2.5.0 is on STANDBY (blue), healthy')),
      (m) => m !== undefined,
    );
    expect(await world.command('U0DEV1', '/release', 'api')).toContain('2.4.1 → 2.5.0 (minor)');
    const id = await eventually(
      () => latestReleaseId(world),
      (v) => v !== '' && textOf(parentOf(world, v)).includes('2.5.0'),
    );
    expect(await world.click('U0DEV2', ACTION.approve, id)).toContain('switching api to blue');
    await eventually(
      () => trafficSplit(front),
      (split) => split.blue === 10,
    );

    const answer = await world.command(
      'U0DEV1',
      '/rollback',
      'api error rate 3.2% > 0.5% <script>',
    );
    expect(answer).toContain('Rolling api back to 2.4.1 on green');
    await eventually(
      () => trafficSplit(front),
      (split) => split.green === 10,
    );
    const alert = await eventually(
      () => world.slack.messages('C0ALERTS')[0],
      (m) => textOf(m).includes('Production restored after a rollback'),
    );
    const text = textOf(alert);
    expect(text).toContain('*Service:* api');
    expect(text).toContain('*Rolled back to:* 2.4.1 (green)');
    expect(text).toContain('*Reason:* error rate 3.2% › 0.5% ‹script›');
    expect(text).toContain('*Who:* <@U0DEV1>');
    expect(text).toContain('switched straight back');
    expect(text).toContain('https://greenlight-test.slack.com/archives/C0RELEASES/p');
    expect(text).toContain('https://runbooks.example.com/api');
    expect(alert?.edits).toBeGreaterThan(0);
    expect(threadOf(world, id).some((m) => m.text.includes('[ROLLBACK]'))).toBe(true);
    // The failed version stays on STANDBY for investigation.
    expect(world.services.api?.blue.state.version).toBe('2.5.0');
    expect(world.services.api?.green.state.version).toBe('2.4.1');
  });

  it('served every request through HAProxy across every switch', async () => {
    const stats = await load.stop();
    expect(stats.total).toBeGreaterThan(50);
    expect(stats.errors).toEqual([]);
    expect(stats.failed).toBe(0);
    load = loadLoop(front);
  });

  it('counts releases by outcome, rollbacks, approval waits and Slack retries on /metrics', async () => {
    const text = await (await fetch(`${world.app.url}/metrics`)).text();
    // Both releases reached `released`; the second was rolled back afterwards.
    expect(text).toMatch(/greenlight_releases_total\{service="api",outcome="released"\} 2\b/);
    expect(text).toMatch(/greenlight_releases_total\{service="api",outcome="rolled_back"\} 1\b/);
    expect(text).toMatch(/greenlight_rollbacks_total\{service="api",trigger="manual"\} 1\b/);
    expect(text).toMatch(/greenlight_approval_wait_seconds_count\{service="api"\} 2\b/);
    expect(text).toMatch(
      /greenlight_release_duration_seconds_count\{service="api",outcome="released"\} 2\b/,
    );
    expect(text).toMatch(/greenlight_slack_api_retries_total\{reason="rate_limited"\} [1-9]/);
    expect(text).toMatch(/greenlight_slack_api_retries_total\{reason="unavailable"\} [1-9]/);
  });

  it('sent only messages that fit Block Kit limits', () => {
    expect(world.slack.violations).toEqual([]);
  });
});
