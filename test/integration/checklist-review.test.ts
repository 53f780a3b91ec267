import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkboxesOf, toggleChecklistItem } from '../../testkit/checklist-clicks.ts';
import {
  bumpAndRequestRelease,
  eventually,
  type ReleaseWorld,
  startReleaseWorld,
  trafficSplit,
} from '../../testkit/release-world.ts';
import type { EmulatedMessage } from '../../testkit/slack-emulator.ts';

const textOf = (m: EmulatedMessage | undefined) =>
  m === undefined ? '' : `${m.text}\n${JSON.stringify(m.blocks)}`;

function parentOf(world: ReleaseWorld, id: string): EmulatedMessage | undefined {
  return world.slack
    .messages('C0RELEASES')
    .find((m) => m.thread_ts === undefined && textOf(m).includes(`Release ${id}`));
}

function threadOf(world: ReleaseWorld, id: string): EmulatedMessage[] {
  const parent = parentOf(world, id);
  return world.slack
    .messages('C0RELEASES')
    .filter((m) => parent !== undefined && m.thread_ts === parent.ts);
}

const postList = (world: ReleaseWorld, id: string) =>
  threadOf(world, id).find((m) => m.text.includes('After release ·'));

describe('checklists through signed requests: /release status, and a rollback ends post-release tracking', () => {
  let world: ReleaseWorld;
  let front: string;
  let id: string;

  beforeAll(async () => {
    world = await startReleaseWorld({
      checklists: `{ pre: ["Rollback plan confirmed"], post: [{ text: "Smoke test passed", owner: U0QA }, { text: "Stakeholders told", required: false }] }`,
      env: { GREENLIGHT_RECONCILE_INTERVAL_SECONDS: '1' },
    });
    front = world.haproxy.frontendUrl('api');
    ({ id } = await bumpAndRequestRelease(world, '2.4.1'));
  });

  afterAll(async () => {
    await world?.close();
  });

  it('/release status names the open pre-release items while the release waits', async () => {
    expect(await world.command('U0DEV1', '/release', 'status api')).toContain(
      'Checklist before release, still open: “Rollback plan confirmed” (required)',
    );
  });

  it('/release status names the open post-release items and their owners while they are tracked', async () => {
    const card = await eventually(
      () => parentOf(world, id),
      (m) => checkboxesOf(m).length > 0,
    );
    expect(await toggleChecklistItem(world, 'U0DEV1', card, 'Rollback plan confirmed')).toContain(
      'Approve counts now',
    );
    expect(await world.click('U0LEAD', 'release_approve', id)).toContain('switching api');
    await eventually(() => postList(world, id), Boolean, 30_000);
    expect(await world.command('U0DEV1', '/release', 'status api')).toContain(
      'Checklist after release, still open: “Smoke test passed” (<@U0QA>), “Stakeholders told”',
    );
  });

  it('a rollback says in its thread line that tracking ended and what was never ticked; later ticks are refused', async () => {
    const drawn = structuredClone(postList(world, id) as EmulatedMessage);
    expect(checkboxesOf(drawn)).not.toEqual([]);
    expect(await world.command('U0LEAD', '/rollback', 'api error rate up')).not.toContain('Only');
    await eventually(
      () => threadOf(world, id).map((m) => m.text),
      (texts) =>
        texts.some((t) =>
          t.includes(
            'Post-release checklist: tracking ended by the rollback; never ticked: “Smoke test passed”, “Stakeholders told”',
          ),
        ),
      30_000,
    );
    await eventually(
      () => trafficSplit(front),
      (split) => split.blue === 10,
      30_000,
    );
    const closed = await eventually(
      () => postList(world, id),
      (m) => textOf(m).includes('Tracking ended at'),
    );
    expect(checkboxesOf(closed)).toEqual([]);
    expect(await toggleChecklistItem(world, 'U0QA', drawn, 'Smoke test passed')).toContain(
      'post-release checklist is closed',
    );
    expect(await world.command('U0DEV1', '/release', 'status api')).not.toContain(
      'Checklist after release',
    );
    expect(world.slack.violations).toEqual([]);
  });
});
