import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkboxesOf,
  checkboxesPayload,
  toggleChecklistItem,
} from '../../testkit/checklist-clicks.ts';
import {
  bumpAndRequestRelease,
  eventually,
  type ReleaseWorld,
  startReleaseWorld,
  trafficSplit,
} from '../../testkit/release-world.ts';
import type { EmulatedMessage } from '../../testkit/slack-emulator.ts';
import { interactionBody } from '../../testkit/slack-payloads.ts';

const AUDIT_TOKEN = 'checklists-audit-token-0123456789';
const APPROVE = 'release_approve';

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

/** Which boxes a message shows ticked, by the text beside them. */
function tickedOn(message: EmulatedMessage | undefined): string[] {
  return checkboxesOf(message).flatMap((b) =>
    b.initial.map((o) => String((o.text as { text: string }).text)),
  );
}

/** The audit trail as Greenlight exports it. */
async function auditLines(world: ReleaseWorld): Promise<{ who: string; what: string }[]> {
  const res = await fetch(`${world.app.url}/audit?limit=1000`, {
    headers: { authorization: `Bearer ${AUDIT_TOKEN}` },
  });
  return (await res.text())
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { who: string; what: string });
}

describe('checklists through signed requests: the seeds’ skeleton, ticks, Approve, post-release items', () => {
  let world: ReleaseWorld;
  let front: string;
  let id: string;

  beforeAll(async () => {
    world = await startReleaseWorld({
      // No checklists key: the built-in skeleton for patch releases. Minor releases override it.
      checklists: 'skeleton',
      // Progress every 1.2 s: the test of the update waits for the first one.
      serviceExtra: `    progressIntervalMinutes: 0.02
    releaseTypes:
      minor:
        approvals: [team]
        rollbackWindowMinutes: 0.15
        checklists:
          pre: []
          post: [{ text: "Smoke test passed", owner: U0QA }, { text: "Stakeholders told", owner: [S0SECURITY], required: false }]
`,
      env: { GREENLIGHT_AUDIT_TOKEN: AUDIT_TOKEN, GREENLIGHT_RECONCILE_INTERVAL_SECONDS: '1' },
    });
    front = world.haproxy.frontendUrl('api');
    ({ id } = await bumpAndRequestRelease(world, '2.4.1'));
  });

  afterAll(async () => {
    await world?.close();
  });

  it('shows the skeleton’s pre-release items as checkboxes on the approval card, required ones marked', async () => {
    const card = await eventually(
      () => parentOf(world, id),
      (m) => checkboxesOf(m).length > 0,
    );
    const options = checkboxesOf(card).flatMap((b) =>
      b.options.map((o) => String((o.text as { text: string }).text)),
    );
    expect(options).toEqual([
      'Release notes reviewed *(required)*',
      'Rollback plan confirmed *(required)*',
      'Database migrations reviewed',
      'On-call engineer aware',
    ]);
    expect(tickedOn(card)).toEqual([]);
    expect(world.slack.violations).toEqual([]);
  });

  it('refuses Approve privately while a required item is unticked, naming the items; no traffic moves', async () => {
    const answer = await world.click('U0LEAD', APPROVE, id);
    expect(answer).toContain('“Release notes reviewed”, “Rollback plan confirmed”');
    expect(answer).toContain('Tick them on the release message');
    expect(answer).not.toContain('“On-call engineer aware”');
    expect(await trafficSplit(front)).toEqual({ blue: 10 });
    expect(textOf(parentOf(world, id))).not.toContain(':white_check_mark: lead');
  });

  it('names the open items in the progress update while the release waits', async () => {
    const progress = await eventually(
      () => threadOf(world, id).find((m) => m.text.includes('Progress')),
      (m) => m !== undefined,
    );
    expect(textOf(progress)).toContain('Before release, still open');
    expect(textOf(progress)).toContain('Approve waits for “Release notes reviewed”');
  });

  it('refuses a tick from someone who neither asked for nor approves the release', async () => {
    // U0DEV2 is in team, which a patch release does not need.
    const answer = await toggleChecklistItem(
      world,
      'U0DEV2',
      parentOf(world, id),
      'Release notes reviewed',
    );
    expect(answer).toContain('Only the requester');
    expect(tickedOn(parentOf(world, id))).toEqual([]);
  });

  let beforeTick: EmulatedMessage;

  it('records a tick with who and when: the card, the thread and the audit trail say so', async () => {
    beforeTick = structuredClone(parentOf(world, id) as EmulatedMessage);
    const answer = await toggleChecklistItem(world, 'U0DEV1', beforeTick, 'Release notes reviewed');
    expect(answer).toContain('You ticked “Release notes reviewed”');
    expect(answer).toContain('Still required before Approve counts: “Rollback plan confirmed”');
    const card = await eventually(
      () => parentOf(world, id),
      (m) => tickedOn(m).length === 1,
    );
    expect(tickedOn(card)).toEqual(['Release notes reviewed *(required)*']);
    expect(textOf(card)).toContain('“Release notes reviewed” by <@U0DEV1> at ');
    await eventually(
      () => threadOf(world, id).map((m) => m.text),
      (texts) => texts.some((t) => t.includes('@U0DEV1 ticked “Release notes reviewed”')),
    );
    const audit = await auditLines(world);
    expect(audit).toContainEqual(
      expect.objectContaining({
        who: 'U0DEV1',
        what: 'ticked pre-release checklist item “Release notes reviewed”',
      }),
    );
    expect(world.slack.violations).toEqual([]);
  });

  it('a tick on a copy of the card drawn before that tick changes only its own box', async () => {
    // The stale copy shows nothing ticked; Slack sends its whole selection: just this one box.
    const answer = await toggleChecklistItem(
      world,
      'U0LEAD',
      beforeTick,
      'Rollback plan confirmed',
    );
    expect(answer).toContain('You ticked “Rollback plan confirmed”');
    const card = await eventually(
      () => parentOf(world, id),
      (m) => tickedOn(m).length === 2,
    );
    expect(tickedOn(card)).toEqual([
      'Release notes reviewed *(required)*',
      'Rollback plan confirmed *(required)*',
    ]);
  });

  it('a request delivered again with a new signature adds nothing', async () => {
    const card = parentOf(world, id) as EmulatedMessage;
    const boxes = checkboxesOf(card)[0];
    if (boxes === undefined) throw new Error('no checkboxes');
    const option = boxes.options.find((o) =>
      String((o.text as { text: string }).text).startsWith('On-call'),
    );
    const payload = (responseUrl: string) =>
      interactionBody(
        checkboxesPayload({
          user: 'U0LEAD',
          message: card,
          boxes,
          selected: [...boxes.initial, option as Record<string, unknown>],
          responseUrl,
        }),
      );
    const first = world.slack.newResponseUrl();
    await world.sender.post(payload(first));
    expect(JSON.stringify((await world.slack.waitForResponse(first)).body)).toContain(
      'You ticked “On-call engineer aware”',
    );
    const again = world.slack.newResponseUrl();
    await world.sender.post(payload(again));
    expect(JSON.stringify((await world.slack.waitForResponse(again)).body)).toContain(
      'Nothing changed',
    );
    const audit = await auditLines(world);
    expect(audit.filter((e) => e.what.includes('“On-call engineer aware”'))).toHaveLength(1);
  });

  it('unticking a required item closes Approve again; ticked again, Approve survives a restart and switches', async () => {
    expect(
      await toggleChecklistItem(world, 'U0LEAD', parentOf(world, id), 'Release notes reviewed'),
    ).toContain('You unticked “Release notes reviewed”');
    await eventually(
      () => tickedOn(parentOf(world, id)),
      (t) => !t.includes('Release notes reviewed *(required)*'),
    );
    const refused = await world.click('U0LEAD', APPROVE, id);
    expect(refused).toContain('still open: “Release notes reviewed”.');
    expect(
      await toggleChecklistItem(world, 'U0LEAD', parentOf(world, id), 'Release notes reviewed'),
    ).toContain('Every required item is ticked');
    await eventually(
      () => tickedOn(parentOf(world, id)),
      (t) => t.length === 3,
    );
    await world.restart();
    expect(await world.click('U0LEAD', APPROVE, id)).toContain('switching api to green');
    await eventually(
      () => trafficSplit(front),
      (split) => split.green === 10,
    );
  });

  it('refuses privately a tick on the pre-release checklist once the release is decided', async () => {
    const card = await eventually(
      () => parentOf(world, id),
      (m) => textOf(m).includes('Released'),
    );
    expect(checkboxesOf(card).filter((b) => b.actionId === 'release_checklist_pre')).toEqual([]);
    expect(textOf(card)).toContain('Release notes reviewed (required) · ticked by <@U0LEAD>');
    const answer = await toggleChecklistItem(world, 'U0DEV1', beforeTick, 'Database migrations');
    expect(answer).toContain('no longer waits for a decision');
    expect(textOf(parentOf(world, id))).not.toContain(
      'Database migrations reviewed (required) · ticked',
    );
  });

  it('lists the post-release items in the thread after the switch and records their ticks', async () => {
    const post = await eventually(
      () => threadOf(world, id).find((m) => m.text.includes('After release ·')),
      (m) => m !== undefined,
    );
    expect(textOf(post)).toContain('Smoke test passed (required)');
    expect(textOf(post)).toContain(
      'Still open: “Smoke test passed”, “Dashboards and error rates checked”, “Stakeholders told”',
    );
    // The completion report comes first, the checklist after it.
    const texts = threadOf(world, id).map((m) => m.text);
    expect(texts.findIndex((t) => t.includes('New PRODUCTION'))).toBeLessThan(
      texts.findIndex((t) => t.includes('After release ·')),
    );
    expect(await toggleChecklistItem(world, 'U0DEV1', post, 'Smoke test passed')).toContain(
      'Still open: “Dashboards and error rates checked”, “Stakeholders told”',
    );
    const updated = await eventually(
      () => threadOf(world, id).find((m) => m.text.includes('After release ·')),
      (m) => textOf(m).includes('Smoke test passed (required) · ticked by <@U0DEV1>'),
    );
    expect(tickedOn(updated)).toEqual(['Smoke test passed *(required)*']);
    expect(world.slack.violations).toEqual([]);
  });

  it('post-release items of another release type mention their owners; owners may tick; tracking ends with the rollback window, naming what was never ticked', async () => {
    await world.command('U0DEV1', '/sync', 'api');
    await eventually(
      () => world.services.api?.blue.state.version,
      (v) => v === '2.4.1',
      30_000,
    );
    // Refused while the sync is still settling; asked again until it is done.
    await eventually(
      () => world.command('U0DEV1', '/bump', 'api minor'),
      (answer) => answer.includes('Deploying api 2.5.0'),
      30_000,
      250,
    );
    await eventually(
      () =>
        world.slack.messages('C0RELEASES').some((m) => m.text.includes('api 2.5.0 is on STANDBY')),
      Boolean,
      30_000,
    );
    expect(await world.command('U0DEV1', '/release', 'api')).toContain('requested');
    const minor = await eventually(
      () =>
        world.slack
          .messages('C0RELEASES')
          .filter((m) => m.thread_ts === undefined && m.text.includes('→ 2.5.0'))
          .at(-1),
      (m) => m !== undefined,
    );
    const minorId = textOf(minor).match(/Release (rel-[a-z0-9-]+)/)?.[1] ?? '';
    expect(checkboxesOf(minor)).toEqual([]);
    expect(await world.click('U0DEV2', APPROVE, minorId)).toContain('switching api');
    const post = await eventually(
      () => threadOf(world, minorId).find((m) => m.text.includes('After release ·')),
      (m) => m !== undefined,
    );
    const drawn = structuredClone(post as EmulatedMessage);
    expect(textOf(post)).toContain('Smoke test passed (required) · owner <@U0QA>');
    expect(textOf(post)).toContain('Stakeholders told · owner <!subteam^S0SECURITY>');
    expect(await toggleChecklistItem(world, 'U0STRANGER', post, 'Smoke test passed')).toContain(
      'Only the requester',
    );
    expect(await toggleChecklistItem(world, 'U0QA', post, 'Smoke test passed')).toContain(
      'You ticked “Smoke test passed”',
    );
    // The window is 9 s: half-way, one reminder of what is open.
    await eventually(
      () => threadOf(world, minorId).map((m) => m.text),
      (texts) => texts.some((t) => t.includes('After release, still open: “Stakeholders told”')),
      30_000,
    );
    // At the first sweep after it, one line says what was never ticked.
    await eventually(
      () => threadOf(world, minorId).map((m) => m.text),
      (texts) =>
        texts.some((t) =>
          t.includes('Rollback window ended; post-release items never ticked: “Stakeholders told”'),
        ),
      30_000,
    );
    const closed = await eventually(
      () => threadOf(world, minorId).find((m) => m.text.includes('After release ·')),
      (m) => textOf(m).includes('never ticked'),
    );
    expect(checkboxesOf(closed)).toEqual([]);
    // A copy of the message drawn while it was tracked: its boxes are still there, and refused.
    expect(await toggleChecklistItem(world, 'U0QA', drawn, 'Stakeholders told')).toContain(
      'post-release checklist is closed',
    );
    const lines = threadOf(world, minorId).filter((m) => m.text.includes('never ticked'));
    expect(lines.filter((m) => m.text.startsWith('Rollback window ended'))).toHaveLength(1);
    expect(
      threadOf(world, minorId).filter((m) => m.text.includes('After release, still open')),
    ).toHaveLength(1);
  });
});
