import { WebClient } from '@slack/web-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SlackDirectory } from '../../src/adapters/slack/slack-directory.ts';
import { SlackEmulator } from '../../testkit/slack-emulator.ts';

describe('SlackDirectory: role members from user ids and user groups', () => {
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

  it('resolves groups through usergroups.users.list and keeps user ids as they are', async () => {
    const directory = new SlackDirectory(client);
    expect((await directory.members(['U0LEAD', 'S0SECURITY'])).sort()).toEqual([
      'U0LEAD',
      'U0SEC1',
      'U0SEC2',
    ]);
  });

  it('caches a group for its TTL, then asks Slack again', async () => {
    let now = 0;
    const directory = new SlackDirectory(client, { ttlMs: 1000, now: () => now });
    const calls = () => slack.callsTo('usergroups.users.list').length;
    await directory.members(['S0SECURITY']);
    const first = calls();
    await directory.members(['S0SECURITY']);
    expect(calls()).toBe(first);
    now = 1500;
    await directory.members(['S0SECURITY']);
    expect(calls()).toBe(first + 1);
  });

  it('grants nothing through a group when Slack answers an error, and forgets the cached members', async () => {
    let now = 0;
    const errors: string[] = [];
    const directory = new SlackDirectory(client, {
      ttlMs: 1000,
      now: () => now,
      onError: (group) => errors.push(group),
    });
    expect(await directory.members(['S0SECURITY'])).toHaveLength(2);
    now = 2000;
    slack.failNext('usergroups.users.list', 'missing_scope');
    expect(await directory.members(['U0LEAD', 'S0SECURITY'])).toEqual(['U0LEAD']);
    slack.serverErrorNext('usergroups.users.list', 503);
    expect(await directory.members(['S0SECURITY'])).toEqual([]);
    expect(errors).toEqual(['S0SECURITY', 'S0SECURITY']);
    expect(await directory.members(['S0NOPE'])).toEqual([]);
  });
});
