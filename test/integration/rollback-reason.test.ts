import { afterEach, describe, expect, it } from 'vitest';
import { type ReleaseWorld, startReleaseWorld } from '../../testkit/release-world.ts';
import { viewSubmissionPayload } from '../../testkit/slack-payloads.ts';
import {
  api,
  channelText,
  REFUSED,
  releaseReaches,
  releaseToGreen,
  sleep,
  trafficAllOn,
} from '../support/world-inspection.ts';

/**
 * Issue 12: a /rollback without a reason that would have to redeploy the last good version asks
 * for the reason in a form first (one submit to confirm); with a reason, or while the old slot is
 * still warm, it acts at once.
 */
let world: ReleaseWorld | undefined;
async function open(options: Parameters<typeof startReleaseWorld>[0]): Promise<ReleaseWorld> {
  world = await startReleaseWorld(options);
  return world;
}
afterEach(async () => {
  await world?.close();
  world = undefined;
});

/** A slash command whose answer may be a form: resolves with the opened view or the reply. */
async function commandOrForm(
  w: ReleaseWorld,
  user: string,
  text: string,
): Promise<{ view: Record<string, unknown> } | { answer: string }> {
  const opened = w.slack.callsTo('views.open').length;
  const responseUrl = w.slack.newResponseUrl();
  const reply = await w.sender.slashCommand({
    command: '/rollback',
    text,
    user_id: user,
    response_url: responseUrl,
  });
  expect(reply.status).toBe(200);
  return Promise.race([
    w.slack
      .waitForCall('views.open', (call) => w.slack.callsTo('views.open').indexOf(call) >= opened)
      .then((call) => ({ view: call.args.view as Record<string, unknown> })),
    w.slack.waitForResponse(responseUrl).then((post) => ({ answer: JSON.stringify(post.body) })),
  ]);
}

async function submit(
  w: ReleaseWorld,
  user: string,
  view: Record<string, unknown>,
  reason: string,
): Promise<string> {
  const ephemerals = w.slack.callsTo('chat.postEphemeral').length;
  const payload = viewSubmissionPayload({ ...view, id: 'V1' }, user, {
    reason: { reason_input: reason },
  });
  const submitted = await w.sender.post(
    new URLSearchParams({ payload: JSON.stringify(payload) }).toString(),
  );
  expect(submitted.status).toBe(200);
  if (typeof submitted.body === 'object' && submitted.body !== null)
    return JSON.stringify(submitted.body);
  const answer = await w.slack.waitForCall(
    'chat.postEphemeral',
    (call) => w.slack.callsTo('chat.postEphemeral').indexOf(call) >= ephemerals,
  );
  return String(answer.args.text);
}

describe('/rollback asks why before it redeploys (issue 12)', () => {
  it('after /sync changed the old slot, /rollback without a reason opens a form; submitting it rolls back', async () => {
    const w = await open({});
    const id = await releaseToGreen(w);
    // /sync puts 2.4.1 on blue too: going back to 2.4.0 now means redeploying it there.
    expect(await w.command('U0DEV1', '/sync', 'api')).toContain('Syncing');
    await expect
      .poll(async () => await (await fetch(`${api(w).blue.url}/version`)).json(), {
        timeout: 30_000,
      })
      .toMatchObject({ version: '2.4.1' });
    await expect
      .poll(() => channelText(w, 'C0RELEASES'), { timeout: 20_000 })
      .toContain('2.4.1 is on');

    const plan = await commandOrForm(w, 'U0LEAD', 'api --dry-run');
    expect('answer' in plan && plan.answer).toContain('Would ask for a reason first');

    const first = await commandOrForm(w, 'U0LEAD', 'api');
    expect('view' in first, 'a form, not an answer').toBe(true);
    if (!('view' in first)) return;
    expect(JSON.stringify(first.view)).toContain('redeploying 2.4.0 onto blue');
    // Nothing moved while the form is open.
    await sleep(500);
    expect(channelText(w, 'C0ALERTS')).not.toContain('[ROLLBACK]');
    await trafficAllOn(w, 'green', 1_000);

    // Too short a reason is refused inside the form.
    expect(await submit(w, 'U0LEAD', first.view, 'x')).toContain('Say why');
    const answer = await submit(w, 'U0LEAD', first.view, 'checkout errors since 2.4.1');
    expect(answer).not.toContain(REFUSED);
    expect(answer).toContain('Rolling api back to 2.4.0 on blue');
    await releaseReaches(w, id, 'rolled_back', 40_000);
    await trafficAllOn(w, 'blue');
    expect(
      ((await (await fetch(`${api(w).blue.url}/version`)).json()) as { version: string }).version,
    ).toBe('2.4.0');
    // The alert travels through the outbox: it can reach Slack after the state is written.
    await expect
      .poll(() => channelText(w, 'C0ALERTS'), { timeout: 20_000 })
      .toContain('checkout errors since 2.4.1');

    // The same form submitted again later (a second tab, a slow double submit) finds nothing left
    // to roll back.
    const again = await submit(w, 'U0LEAD', first.view, 'still failing, roll back again');
    expect(again).toContain('already rolled back');
  });

  it('a /rollback that gives its reason, or whose old slot is still warm, acts at once', async () => {
    const w = await open({});
    const id = await releaseToGreen(w);
    const warm = await commandOrForm(w, 'U0LEAD', 'api');
    expect('answer' in warm && warm.answer).toContain('Rolling api back to 2.4.0 on blue');
    await releaseReaches(w, id, 'rolled_back');
    await trafficAllOn(w, 'blue');
  });

  it('a member outside the rollback operators is refused before any form opens', async () => {
    const w = await open({
      serviceExtra: '    operators: { rollback: [U0LEAD] }\n',
    });
    await releaseToGreen(w);
    expect(await w.command('U0DEV1', '/sync', 'api')).toContain('Syncing');
    await expect
      .poll(() => channelText(w, 'C0RELEASES'), { timeout: 20_000 })
      .toContain('2.4.1 is on');
    const outsider = await commandOrForm(w, 'U0DEV2', 'api');
    expect('answer' in outsider && outsider.answer).toContain(REFUSED);
  });
});
