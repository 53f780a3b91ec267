import { afterEach, describe, expect, it } from 'vitest';
import {
  bumpAndRequestRelease,
  type ReleaseWorld,
  startReleaseWorld,
} from '../../testkit/release-world.ts';
import { releaseReaches, sleep, trafficAllOn } from '../support/world-inspection.ts';

// An HAProxy reload refuses connections for a few hundred milliseconds: an approval that lands
// then must not fail the release, as long as HAProxy answers again within the switch's retries.

let world: ReleaseWorld | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

describe('a switch while HAProxy is briefly unreachable', () => {
  it('tries again and goes out once HAProxy answers, without a failure in the thread', async () => {
    const w = await startReleaseWorld();
    world = w;
    const { id, parentTs } = await bumpAndRequestRelease(w, '2.4.1');
    await w.haproxy.halt();
    await w.click('U0LEAD', 'release_approve', id);
    await sleep(300); // the first try meets a refused connection
    await w.haproxy.reload();

    await releaseReaches(w, id, 'released', 30_000);
    await trafficAllOn(w, 'green');
    const thread = w.slack
      .messages('C0RELEASES')
      .filter((m) => m.thread_ts === parentTs)
      .map((m) => m.text)
      .join('\n');
    expect(thread).not.toMatch(/switch failed|failed:/i);
  });

  it('fails the release and keeps PRODUCTION when HAProxy stays away past the retries', async () => {
    const w = await startReleaseWorld();
    world = w;
    const { id } = await bumpAndRequestRelease(w, '2.4.1');
    await w.haproxy.halt();
    await w.click('U0LEAD', 'release_approve', id);
    await releaseReaches(w, id, 'failed', 30_000);
    await w.haproxy.reload();
    await trafficAllOn(w, 'blue');
  });
});
