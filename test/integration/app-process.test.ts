import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type RunningGreenlight,
  startGreenlight,
  writeConfig,
} from '../../testkit/greenlight-process.ts';
import { type RedisFixture, redisFixture } from '../../testkit/redis-fixture.ts';
import { SlackEmulator } from '../../testkit/slack-emulator.ts';
import { slashCommandBody } from '../../testkit/slack-payloads.ts';
import { SlackSender } from '../../testkit/slack-sender.ts';
import { signedHeaders } from '../../testkit/slack-signing.ts';

const SIGNING_SECRET = 'test-signing-secret-0123456789';

describe('Greenlight as a process, against the Slack emulator and real Redis', () => {
  let slack: SlackEmulator;
  let redis: RedisFixture;
  let app: RunningGreenlight;
  let sender: SlackSender;

  beforeAll(async () => {
    slack = await SlackEmulator.start();
    redis = await redisFixture('process');
    const config = await writeConfig(
      await readFile(new URL('../support/fixtures/greenlight.test.yml', import.meta.url), 'utf8'),
    );
    app = await startGreenlight({
      SLACK_BOT_TOKEN: slack.botToken,
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_API_URL: slack.apiUrl,
      REDIS_URL: redis.url,
      GREENLIGHT_KEY_PREFIX: redis.keyPrefix,
      GREENLIGHT_CONFIG: config,
    });
    sender = new SlackSender(app.url, SIGNING_SECRET);
  });

  afterAll(async () => {
    await app?.stop('SIGKILL');
    await slack?.close();
    await redis?.cleanup();
  });

  it('verifies its token with auth.test against SLACK_API_URL at start-up', () => {
    expect(slack.callsTo('auth.test').length).toBeGreaterThan(0);
  });

  it('answers a signed /bump with no arguments privately with usage, services and levels', async () => {
    const reply = await sender.slashCommand({
      command: '/bump',
      text: '',
      response_url: slack.newResponseUrl(),
    });
    expect(reply.status).toBe(200);
    const body = reply.body as { response_type: string; text: string; blocks: unknown[] };
    expect(body.response_type).toBe('ephemeral');
    expect(body.text).toContain('Which service?');
    expect(body.text).toContain('api, web');
    const rendered = JSON.stringify(body.blocks);
    for (const level of ['patch', 'minor', 'major', 'hotfix']) expect(rendered).toContain(level);
    expect(slack.violations).toEqual([]);
  });

  it('lists the configured services when /bump names an unknown one', async () => {
    const reply = await sender.slashCommand({
      command: '/bump',
      text: 'payments minor',
      response_url: slack.newResponseUrl(),
    });
    const body = reply.body as { response_type: string; text: string };
    expect(body.response_type).toBe('ephemeral');
    expect(body.text).toContain('no service called payments');
    expect(body.text).toContain('api, web');
  });

  it('explains the workflow on /release help', async () => {
    const reply = await sender.slashCommand({
      command: '/release',
      text: 'help',
      response_url: slack.newResponseUrl(),
    });
    const body = reply.body as { response_type: string; text: string; blocks: unknown[] };
    expect(body.response_type).toBe('ephemeral');
    const rendered = JSON.stringify(body.blocks);
    for (const step of ['/bump api', '/release api', '/sync api', '/rollback api'])
      expect(rendered).toContain(step);
  });

  it.each([
    ['/release', 'api extra', 'does not take'],
    ['/sync', '', 'Which service?'],
    ['/rollback', '', 'Which service?'],
    ['/bump', 'api 2.x', 'neither a bump level nor a version'],
    ['/bump', 'api minor --force', 'not an option'],
  ])('answers %s %j privately with usage', async (command, text, expected) => {
    const reply = await sender.slashCommand({
      command,
      text,
      response_url: slack.newResponseUrl(),
    });
    const body = reply.body as { response_type: string; text: string };
    expect(body.response_type).toBe('ephemeral');
    expect(body.text).toContain(expected);
    expect(body.text).toContain('Usage');
  });

  it('acks a well-formed command at once and answers privately through response_url', async () => {
    const responseUrl = slack.newResponseUrl();
    const reply = await sender.slashCommand({
      command: '/release',
      text: 'status web',
      response_url: responseUrl,
    });
    expect(reply.status).toBe(200);
    expect(reply.body).toBe('');
    const answer = await slack.waitForResponse(responseUrl);
    expect(answer.body.response_type).toBe('ephemeral');
    expect(String(answer.body.text)).toContain('PRODUCTION: green 1.0.0');
    expect(String(answer.body.text)).toContain('HAProxy: unreachable');
  });

  it('rejects a forged signature with 401 and does not run the command', async () => {
    const responseUrl = slack.newResponseUrl();
    const body = slashCommandBody({
      command: '/bump',
      text: 'api minor',
      response_url: responseUrl,
    });
    const headers = signedHeaders('not-the-signing-secret', body);
    const reply = await sender.post(body, headers);
    expect(reply.status).toBe(401);
    await new Promise((r) => setTimeout(r, 300));
    expect(slack.responsesTo(responseUrl)).toEqual([]);
  });

  it('rejects a correctly signed request whose timestamp is 10 minutes old with 401', async () => {
    const body = slashCommandBody({
      command: '/bump',
      text: '',
      response_url: slack.newResponseUrl(),
    });
    const tenMinutesAgo = Math.floor(Date.now() / 1000) - 600;
    const reply = await sender.post(body, signedHeaders(SIGNING_SECRET, body, tenMinutesAgo));
    expect(reply.status).toBe(401);
  });

  it('rejects a body altered after signing with 401', async () => {
    const body = slashCommandBody({
      command: '/bump',
      text: '',
      response_url: slack.newResponseUrl(),
    });
    const headers = signedHeaders(SIGNING_SECRET, body);
    const reply = await sender.post(body.replace('text=', 'text=api'), headers);
    expect(reply.status).toBe(401);
  });

  it('reports alive on /healthz and ready on /readyz when Redis answers and the workers run', async () => {
    expect((await fetch(`${app.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${app.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({
      status: 'ready',
      checks: { redis: 'ok', workers: 'ok' },
      observed: { slack: expect.any(String) },
    });
  });

  it('exports Prometheus metrics, counting the commands it answered', async () => {
    const res = await fetch(`${app.url}/metrics`);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    expect(text).toMatch(/greenlight_commands_total\{command="bump",outcome="refused"\} [1-9]/);
    expect(text).toContain('greenlight_process_resident_memory_bytes');
  });

  it('logs JSON without the bot token or signing secret', () => {
    const lines = app.output.join('\n');
    expect(app.logs().length).toBeGreaterThan(0);
    expect(lines).not.toContain(slack.botToken);
    expect(lines).not.toContain(SIGNING_SECRET);
  });
});
