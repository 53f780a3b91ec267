import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bumpAndRequestRelease,
  eventually,
  type ReleaseWorld,
  startReleaseWorld,
} from '../../testkit/release-world.ts';
import { blockActionsPayload, viewSubmissionPayload } from '../../testkit/slack-payloads.ts';

const ACTION = 'release_incident_link';

describe('comms: stakeholder channel notices and the incident reminder after a rollback', () => {
  let world: ReleaseWorld;
  let receiver: Server;
  const events: string[] = [];
  let id = '';

  const stake = () => world.slack.messages('C0STAKE');
  const reminder = () => stake().find((m) => JSON.stringify(m.blocks).includes(ACTION));
  const click = async (channel: string, value: string) => {
    const responseUrl = world.slack.newResponseUrl();
    const opened = world.slack.callsTo('views.open').length;
    const reply = await world.sender.click({
      action_id: ACTION,
      value,
      user_id: 'U0LEAD',
      channel_id: channel,
      message_ts: reminder()?.ts ?? '1.000000',
      response_url: responseUrl,
    });
    expect(reply.status).toBe(200);
    const first = await Promise.race([
      world.slack
        .waitForCall('views.open', (c) => world.slack.callsTo('views.open').indexOf(c) >= opened)
        .then((call) => ({ view: call.args.view as Record<string, unknown> })),
      world.slack
        .waitForResponse(responseUrl)
        .then((post) => ({ answer: JSON.stringify(post.body) })),
    ]);
    return first;
  };
  const submit = async (view: Record<string, unknown>, url: string) => {
    const payload = viewSubmissionPayload({ ...view, id: 'V1' }, 'U0LEAD', {
      incident: { url_input: url },
    });
    return world.sender.post(new URLSearchParams({ payload: JSON.stringify(payload) }).toString());
  };

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString();
      });
      req.on('end', () => {
        events.push((JSON.parse(body) as { event: string }).event);
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const address = receiver.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    world = await startReleaseWorld({
      stabilityWindowMinutes: 10,
      serviceExtra: '    analysis: { source: haproxy, minRequests: 0, intervalSeconds: 0.5 }\n',
      // The reminder about 1 s after a rollback, due about 8 s after it: the reminder still has
      // 7 s to be drawn as due, not overdue, before its deadline passes.
      topLevelExtra: `workspace: { teamId: T0GREEN }
comms:
  channels: [C0STAKE]
  incidentReport: { remindAfterHours: 0.0003, dueHours: 0.0023 }
  webhooks:
    - { url: "http://127.0.0.1:${port}/", secretEnv: STATUS_PAGE_SECRET, events: [rolled_back] }
`,
      env: { GREENLIGHT_RECONCILE_INTERVAL_SECONDS: '1', STATUS_PAGE_SECRET: 'status-secret' },
    });
  }, 60_000);

  afterAll(async () => {
    await world?.close();
    await new Promise((resolve) => receiver?.close(resolve));
  });

  it('posts the start notice when traffic moves and the rollback notice, with the reason, once', async () => {
    ({ id } = await bumpAndRequestRelease(world, '2.4.1'));
    expect(stake()).toEqual([]); // nothing for stakeholders while approval is pending
    await world.click('U0LEAD', 'release_approve', id);
    await eventually(stake, (list) => list.some((m) => m.text.includes('Release started')));
    await world.command('U0LEAD', '/rollback', 'api checkout errors');
    const notice = await eventually(
      () => stake().find((m) => m.text.startsWith('Rolled back')),
      (m) => m !== undefined,
    );
    expect(notice?.text).toContain('api is back on 2.4.0 (2.4.1 withdrawn)');
    expect(JSON.stringify(notice?.blocks)).toContain('checkout errors');
    await eventually(
      () => events,
      (list) => list.includes('rolled_back'),
    );
    // The hook asked for rolled_back only: the start was not sent to it.
    expect(events).toEqual(['rolled_back']);
    expect(stake().filter((m) => m.text.startsWith('Release started'))).toHaveLength(1);
    expect(stake().filter((m) => m.text.startsWith('Rolled back'))).toHaveLength(1);
  }, 90_000);

  it('reminds the channel to file an incident report and hold a retro, with a deadline and a button', async () => {
    const posted = await eventually(reminder, (m) => m !== undefined, 15_000);
    expect(posted?.text).toMatch(
      /Incident report due for api 2\.4\.1 \(rolled back to 2\.4\.0\) \(due \d{4}-\d\d-\d\d \d\d:\d\d UTC\)/,
    );
    const blocks = JSON.stringify(posted?.blocks);
    expect(blocks).toContain('<@U0DEV1>'); // the requester
    expect(blocks).toContain('<@U0LEAD>'); // and the approver are asked
    expect(blocks).toContain('Record incident link');
  }, 30_000);

  it('refuses the button outside the channels that hold the reminder, and for a release that was not rolled back', async () => {
    const elsewhere = await click('C0ELSEWHERE', id);
    expect('answer' in elsewhere && elsewhere.answer).toContain(
      'only counts where Greenlight posted',
    );
    // The release's own channel holds no reminder when stakeholder channels are set.
    const ownChannel = await click('C0RELEASES', id);
    expect('answer' in ownChannel && ownChannel.answer).toContain(
      'only counts where Greenlight posted',
    );
    const forged = await click('C0STAKE', 'rel-does-not-exist');
    expect('answer' in forged && forged.answer).toContain('no longer holds as rolled back');
    // From another workspace (a Slack Connect guest): refused like a click from another channel.
    const responseUrl = world.slack.newResponseUrl();
    const payload = blockActionsPayload({
      action_id: ACTION,
      value: id,
      user_id: 'U0LEAD',
      channel_id: 'C0STAKE',
      message_ts: reminder()?.ts ?? '1.000000',
      response_url: responseUrl,
    });
    (payload.user as { team_id: string }).team_id = 'T0OTHER';
    const opened = world.slack.callsTo('views.open').length;
    await world.sender.post(new URLSearchParams({ payload: JSON.stringify(payload) }).toString());
    const foreign = await world.slack.waitForResponse(responseUrl);
    expect(JSON.stringify(foreign.body)).toContain('only counts where Greenlight posted');
    expect(world.slack.callsTo('views.open')).toHaveLength(opened);
  });

  it('records a valid incident link from the modal, refuses anything else in the form, and shows the link on the reminder', async () => {
    const opened = await click('C0STAKE', id);
    if (!('view' in opened)) throw new Error(`no modal: ${JSON.stringify(opened)}`);
    for (const bad of [
      'javascript:alert(1)',
      'incidents.example.com/42',
      'https://x.example/<!here>',
    ]) {
      const refused = await submit(opened.view, bad);
      expect(JSON.stringify(refused.body)).toContain('"response_action":"errors"');
    }
    expect(reminder()?.text).not.toContain('recorded');
    const accepted = await submit(opened.view, 'https://incidents.example.com/INC-42');
    expect(accepted.status).toBe(200);
    const shown = await eventually(reminder, (m) => m?.text.includes('recorded') === true);
    expect(shown?.text).toContain('https://incidents.example.com/INC-42');
    expect(JSON.stringify(shown?.blocks)).toContain('recorded by <@U0LEAD>');
    expect(JSON.stringify(shown?.blocks)).toContain('Change incident link');
    // Recorded in the audit trail, with who.
    const entries = await world.redis.redis.xrange(`{${world.redis.keyPrefix}}:audit`, '-', '+');
    expect(JSON.stringify(entries)).toContain('incident report link recorded');
    // That the deadline passing later does not turn it back into an overdue one is checked in
    // the next test, once this reminder's overdue job has run.
  }, 60_000);

  it('turns an unrecorded reminder overdue once its deadline passes', async () => {
    const { id: second } = await bumpAndRequestRelease(world, '2.5.0', 'api minor');
    await world.click('U0DEV2', 'release_approve', second);
    await eventually(stake, (list) => list.some((m) => m.text.includes('→ 2.5.0')));
    await world.command('U0LEAD', '/rollback', 'api latency');
    const reminderOf = () =>
      stake().find(
        (m) => m.text.includes('api 2.5.0') && JSON.stringify(m.blocks).includes(ACTION),
      );
    await eventually(reminderOf, (m) => m?.text.includes('due') === true, 15_000);
    const overdue = await eventually(
      reminderOf,
      (m) => m?.text.startsWith('Incident report overdue') === true,
      20_000,
    );
    expect(JSON.stringify(overdue?.blocks)).toContain('Record incident link');
    // The first rollback's reminder, with its link, is untouched: its deadline has passed and
    // its overdue job has run (due earlier than this one's), and it is still the one recorded
    // reminder, not turned back into an overdue one.
    await eventually(
      () =>
        world.redis.redis.hget(
          `{${world.redis.keyPrefix}}:steps:${id}-incident-overdue`,
          'finishedOn',
        ),
      (finished) => finished !== null,
    );
    expect(reminder()?.text).toContain('INC-42');
    expect(reminder()?.text).toContain('recorded');
    const reminders = stake().filter((m) => JSON.stringify(m.blocks).includes(ACTION));
    expect(reminders.filter((m) => m.text.includes('api 2.4.1'))).toHaveLength(1);
    expect(reminders).toHaveLength(2); // one per rollback, each redrawn in place
  }, 60_000);
});
