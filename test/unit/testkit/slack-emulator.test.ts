import { WebClient } from '@slack/web-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SlackEmulator } from '../../../testkit/slack-emulator.ts';

describe('the Slack Web API emulator answers like Slack', () => {
  let slack: SlackEmulator;
  let client: WebClient;

  beforeAll(async () => {
    slack = await SlackEmulator.start({ usergroups: { S0SECURITY: ['U0SEC1', 'U0SEC2'] } });
    client = new WebClient(slack.botToken, {
      slackApiUrl: slack.apiUrl,
      retryConfig: { retries: 0 },
    });
  });
  afterAll(async () => slack.close());

  it('answers auth.test for the bot token and invalid_auth for any other', async () => {
    expect(await client.auth.test()).toMatchObject({ ok: true, user_id: 'U0GREENBOT' });
    const stranger = new WebClient('xoxb-wrong', {
      slackApiUrl: slack.apiUrl,
      retryConfig: { retries: 0 },
    });
    await expect(stranger.auth.test()).rejects.toMatchObject({
      data: { ok: false, error: 'invalid_auth' },
    });
  });

  it('posts, threads and edits messages, keeping their current content', async () => {
    const parent = await client.chat.postMessage({
      channel: 'C0RELEASES',
      text: 'api 2.4.0 → 2.4.1',
    });
    await client.chat.postMessage({ channel: 'C0RELEASES', thread_ts: parent.ts, text: 'step 1' });
    await client.chat.update({ channel: 'C0RELEASES', ts: parent.ts ?? '', text: 'Released' });
    const messages = slack.messages('C0RELEASES');
    expect(messages.find((m) => m.ts === parent.ts)).toMatchObject({ text: 'Released', edits: 1 });
    expect(messages.find((m) => m.thread_ts === parent.ts)?.text).toBe('step 1');
  });

  it('answers ok:false errors Slack would give', async () => {
    await expect(
      client.chat.update({ channel: 'C0RELEASES', ts: '1.000', text: 'x' }),
    ).rejects.toMatchObject({
      data: { error: 'message_not_found' },
    });
    await expect(
      client.chat.postMessage({ channel: '#releases', text: 'x' }),
    ).rejects.toMatchObject({
      data: { error: 'channel_not_found' },
    });
    slack.failNext('chat.postMessage', 'is_archived');
    await expect(
      client.chat.postMessage({ channel: 'C0RELEASES', text: 'x' }),
    ).rejects.toMatchObject({
      data: { error: 'is_archived' },
    });
  });

  it('answers HTTP 429 with Retry-After, which WebClient honours before retrying', async () => {
    const patient = new WebClient(slack.botToken, { slackApiUrl: slack.apiUrl });
    slack.rateLimitNext('chat.postMessage', 1);
    const started = Date.now();
    const result = await patient.chat.postMessage({
      channel: 'C0RELEASES',
      text: 'after the limit',
    });
    expect(result.ok).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    const attempts = slack
      .callsTo('chat.postMessage')
      .filter((c) => c.args.text === 'after the limit');
    expect(attempts.map((c) => c.status)).toEqual([429, 200]);
  });

  it('resolves user groups and rejects unknown ones', async () => {
    expect((await client.usergroups.users.list({ usergroup: 'S0SECURITY' })).users).toEqual([
      'U0SEC1',
      'U0SEC2',
    ]);
    await expect(client.usergroups.users.list({ usergroup: 'S0NOPE' })).rejects.toMatchObject({
      data: { error: 'no_such_subteam' },
    });
  });

  it('opens modals only with a trigger id', async () => {
    const view = {
      type: 'modal' as const,
      title: { type: 'plain_text' as const, text: 'Reject' },
      blocks: [],
    };
    expect((await client.views.open({ trigger_id: '1.2.3', view })).view?.id).toMatch(/^V/);
    await expect(client.views.open({ trigger_id: '', view })).rejects.toMatchObject({
      data: { error: 'invalid_trigger_id' },
    });
  });

  it('flags messages that break Block Kit limits', async () => {
    const before = slack.violations.length;
    await client.chat.postMessage({
      channel: 'C0RELEASES',
      text: 'too much',
      blocks: [
        { type: 'section', text: { type: 'mrkdwn', text: 'x'.repeat(3001) } },
        {
          type: 'actions',
          elements: [
            { type: 'button', action_id: 'a', text: { type: 'plain_text', text: 'y'.repeat(76) } },
          ],
        },
      ],
    });
    expect(slack.violations.slice(before).flatMap((v) => v.problems)).toEqual([
      'blocks[0] section text longer than 3000',
      'blocks[1].elements[0].text longer than 75',
    ]);
  });

  it('records posts to response_url', async () => {
    const url = slack.newResponseUrl();
    await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'hi', response_type: 'ephemeral' }),
    });
    expect((await slack.waitForResponse(url)).body).toEqual({
      text: 'hi',
      response_type: 'ephemeral',
    });
  });
});
