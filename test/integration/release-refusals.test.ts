import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../testkit/ports.ts';
import {
  eventually,
  type ReleaseWorld,
  startReleaseWorld,
  trafficSplit,
} from '../../testkit/release-world.ts';

const APPROVE = 'release_approve';

/**
 * Every refusal a user can cause, each answered privately, with the state in Redis, the slots
 * and HAProxy exactly as they were.
 */
describe('bad input and failures leave a consistent state', () => {
  let world: ReleaseWorld;
  let snapshot: () => Promise<string>;

  beforeAll(async () => {
    world = await startReleaseWorld({
      services: ['api', 'pay', 'ops', 'web'],
      deployTimeoutSeconds: 2,
      overrides: {
        pay: { runtimeApi: `127.0.0.1:${await freePort()}` },
        ops: { deployCommand: ['/nonexistent/deploy.sh'] },
        web: { backend: 'no-such-backend' },
      },
    });
    snapshot = async () => {
      const keys = (await world.redis.keys()).filter((k) => /:(service|release):/.test(k)).sort();
      const values = await Promise.all(keys.map((k) => world.redis.redis.hgetall(k)));
      return JSON.stringify([keys, values, await world.haproxy.serverStates('api')]);
    };
  });

  afterAll(async () => world?.close());

  const channelTexts = () => world.slack.messages('C0RELEASES').map((m) => m.text);

  it('refuses /release when STANDBY runs nothing newer yet (its version read from the slot)', async () => {
    const before = await snapshot();
    expect(await world.command('U0DEV1', '/release', 'api')).toContain(
      "STANDBY (green) runs 0.0.0, older than PRODUCTION's 2.4.0",
    );
    expect(await snapshot()).toBe(before);
  });

  it('refuses /rollback when there is no release', async () => {
    expect(await world.command('U0DEV1', '/rollback', 'api')).toContain(
      'api has no release to roll back',
    );
  });

  it('refuses a version that is not newer than PRODUCTION', async () => {
    const before = await snapshot();
    const answer = await world.command('U0DEV1', '/bump', 'api 2.4.0');
    expect(answer).toContain("2.4.0 is not newer than PRODUCTION's 2.4.0");
    expect(answer).toContain('/bump api patch');
    expect(await snapshot()).toBe(before);
  });

  it('reports a failing deploy with the tail of its output and leaves PRODUCTION untouched', async () => {
    await world.services.api?.setDeployMode('fail');
    await world.command('U0DEV1', '/bump', 'api');
    const failed = await eventually(
      () =>
        world.slack
          .messages('C0RELEASES')
          .find((m) => m.text.includes('Deploy of api 2.4.1') && m.text.includes('failed')),
      (m) => m !== undefined,
    );
    const text = `${failed?.text} ${JSON.stringify(failed?.blocks)}`;
    expect(text).toContain('deploy command exited with code 3');
    expect(text).toContain('manifest unknown: image not found');
    expect(text).toContain('PRODUCTION (2.4.0) is untouched');
    expect(text).not.toContain('LEAK');
    expect(await trafficSplit(world.haproxy.frontendUrl('api'))).toEqual({ blue: 10 });
    expect(await world.command('U0DEV1', '/release', 'api')).toContain(
      'STANDBY (green) failed its last deploy',
    );
  });

  it('kills a deploy that runs past its timeout', async () => {
    await world.services.api?.setDeployMode('hang');
    await world.command('U0DEV1', '/bump', 'api');
    const failed = await eventually(
      () =>
        world.slack
          .messages('C0RELEASES')
          .find((m) => m.text.includes('timed out after 2 s and was killed')),
      (m) => m !== undefined,
    );
    expect(failed?.text).toContain('Deploy of api 2.4.1');
  });

  it('says so when the deploy command does not exist', async () => {
    await world.command('U0DEV1', '/bump', 'ops');
    await eventually(
      () =>
        channelTexts().find((t) => t.includes('deploy command not found: /nonexistent/deploy.sh')),
      (t) => t !== undefined,
    );
  });

  it('refuses /release while STANDBY is unhealthy, without asking anyone', async () => {
    await world.services.api?.setDeployMode('ok');
    await world.command('U0DEV1', '/bump', 'api');
    await eventually(
      () => channelTexts().find((t) => t.includes('api 2.4.1 is on STANDBY (green), healthy')),
      (t) => t !== undefined,
    );
    world.services.api?.green.set({ healthy: false });
    const before = await snapshot();
    const parents = world.slack.messages('C0RELEASES').length;
    const answer = await world.command('U0DEV1', '/release', 'api');
    expect(answer).toContain('STANDBY (green) is unhealthy');
    expect(answer).toContain('answered 503');
    expect(await snapshot()).toBe(before);
    expect(world.slack.messages('C0RELEASES').length).toBe(parents);
    world.services.api?.green.set({ healthy: true });
  });

  it('refuses /release when HAProxy is unreachable or answers an error', async () => {
    for (const [service, expected] of [
      ['pay', 'is unreachable'],
      ['web', 'HAProxy has no backend "no-such-backend"'],
    ] as const) {
      await world.command('U0DEV1', '/bump', service);
      await eventually(
        () =>
          channelTexts().find((t) => t.includes(`${service} 2.4.1 is on STANDBY (green), healthy`)),
        (t) => t !== undefined,
      );
      const answer = await world.command('U0DEV1', '/release', service);
      expect(answer).toContain(`The traffic switch for ${service} cannot be used`);
      expect(answer).toContain(expected);
    }
  });

  it('answers /bump and /sync with what runs and who started it while a release waits', async () => {
    expect(await world.command('U0DEV1', '/release', 'api')).toContain('requested');
    const before = await snapshot();
    for (const [command, text] of [
      ['/bump', 'api'],
      ['/sync', 'api'],
      ['/release', 'api'],
    ]) {
      const answer = await world.command('U0DEV2', command ?? '', text ?? '');
      expect(answer).toContain('api is busy: a release of 2.4.1 started by <@U0DEV1>');
    }
    expect(await snapshot()).toBe(before);
  });

  it('records who rejected, ends the release and frees the service, traffic unchanged', async () => {
    const parent = await eventually(
      () =>
        world.slack.messages('C0RELEASES').find((m) => JSON.stringify(m.blocks).includes(APPROVE)),
      (m) => m !== undefined,
    );
    const id = JSON.stringify(parent?.blocks).match(/"value":"(rel-[^":]+)/)?.[1] ?? '';
    expect(await world.click('U0CTO', APPROVE, id)).toContain('needs approval from lead');
    expect(await world.reject('U0LEAD', id, 'no')).toContain('Say why the release is rejected');
    expect(await world.reject('U0LEAD', id, 'checkout tests are red on STANDBY')).toContain(
      'You rejected api 2.4.1',
    );
    const updated = await eventually(
      () => world.slack.messages('C0RELEASES').find((m) => m.ts === parent?.ts),
      (m) => m?.text.includes('Rejected') === true,
    );
    expect(JSON.stringify(updated?.blocks)).toContain(
      'Rejected by <@U0LEAD>: checkout tests are red on STANDBY',
    );
    expect(JSON.stringify(updated?.blocks)).not.toContain(APPROVE);
    expect(await world.click('U0LEAD', APPROVE, id)).toContain('was rejected');
    expect(await trafficSplit(world.haproxy.frontendUrl('api'))).toEqual({ blue: 10 });
    expect(await world.command('U0DEV1', '/rollback', 'api')).toContain(
      'was rejected, so traffic never moved',
    );
  });

  it('lets /rollback cancel a release still waiting for approval', async () => {
    expect(await world.command('U0DEV1', '/release', 'api')).toContain('requested');
    expect(await world.command('U0LEAD', '/rollback', 'api not today')).toContain(
      'Cancelled the pending release of api 2.4.1',
    );
    expect(await trafficSplit(world.haproxy.frontendUrl('api'))).toEqual({ blue: 10 });
    expect(world.slack.messages('C0ALERTS')).toEqual([]);
  });

  it('refuses a forged button value', async () => {
    expect(await world.click('U0LEAD', APPROVE, '../../etc/passwd')).toContain(
      'not one Greenlight made',
    );
  });

  it('shows both slots, HAProxy and the last release on /release status', async () => {
    const status = await world.command('U0DEV2', '/release', 'status api');
    expect(status).toContain('PRODUCTION: blue 2.4.0 · healthy');
    expect(status).toContain('STANDBY: green 2.4.1 · healthy');
    expect(status).toContain('HAProxy: traffic to blue; up: blue, green');
    expect(status).toContain('Last release: 2.4.0 → 2.4.1 (patch) cancelled');
  });
});
