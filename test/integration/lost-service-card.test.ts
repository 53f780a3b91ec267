import { afterEach, describe, expect, it } from 'vitest';
import { eventually, type ReleaseWorld, startReleaseWorld } from '../../testkit/release-world.ts';
import { REFUSED, releaseToGreen, serviceKey } from '../support/world-inspection.ts';

// Redis loses api's service record after a release. Greenlight adopts what the proxy serves,
// and the adopted record counts its revisions from 1 again. The release card must still follow
// what happens next: it was drawn at a higher service revision, and the outbox drops redraws
// that look older than the card shown.
let world: ReleaseWorld | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

describe('the release card after Redis lost the service record', () => {
  it('shows the new STANDBY of the next /bump, not the one from before the loss', async () => {
    world = await startReleaseWorld({});
    const w = world;
    const id = await releaseToGreen(w);
    const card = () =>
      w.slack
        .messages('C0RELEASES')
        .find((m) => m.text.includes('api 2.4.0 → 2.4.1') && JSON.stringify(m.blocks).includes(id));
    const standby = () =>
      JSON.stringify(card()?.blocks ?? []).match(/\*STANDBY\*\\n([^"]*?)\\n/)?.[1] ?? '';
    await eventually(standby, (line) => line.startsWith('blue · 2.4.0'));

    expect(await w.redis.redis.del(serviceKey(w))).toBe(1);
    const answer = await w.command('U0DEV1', '/bump', 'api');
    expect(answer).not.toContain(REFUSED);
    expect(answer).toContain('Deploying api 2.4.2');
    await eventually(
      () => w.slack.messages('C0RELEASES').some((m) => m.text.includes('api 2.4.2 is on STANDBY')),
      Boolean,
      30_000,
    );
    await eventually(standby, (line) => line.startsWith('blue · 2.4.2'), 10_000);
  });
});
