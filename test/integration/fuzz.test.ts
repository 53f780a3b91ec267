import { existsSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ReleaseWorld,
  SIGNING_SECRET,
  startReleaseWorld,
} from '../../testkit/release-world.ts';
import {
  blockActionsPayload,
  interactionBody,
  slashCommandBody,
  viewSubmissionPayload,
} from '../../testkit/slack-payloads.ts';
import { signedHeaders } from '../../testkit/slack-signing.ts';
import {
  hostilePayload,
  hostileText,
  LIVE_HOSTILE_TOKENS,
  PWNED_FILE,
  prng,
} from '../support/hostile-input.ts';

// `flag` too: the world configures no flags, so every /flag is refused and changes nothing.
const COMMANDS = ['bump', 'release', 'sync', 'rollback', 'flag'] as const;

/**
 * Could this text change state if accepted? The fuzz keeps to input that must be refused or only
 * read. Decided by a grammar of its own, wider than the parser's (any word `api` in any case,
 * unless `--dry-run` is there), so the parser under test never picks which inputs it is tested on.
 */
function changesState(command: (typeof COMMANDS)[number], text: string): boolean {
  if (command !== 'bump' && command !== 'sync' && command !== 'release') return false;
  const words = text.trim().split(/\s+/);
  if (words.some((w) => w.toLowerCase() === '--dry-run')) return false;
  if (command === 'release' && /^(status|help|history)$/i.test(words[0] ?? '')) return false;
  return words.some((w) => w.toLowerCase() === 'api');
}

describe('hostile input: thousands of generated commands and payloads', () => {
  let world: ReleaseWorld;
  let snapshot: () => Promise<string>;

  beforeAll(async () => {
    rmSync(PWNED_FILE, { force: true });
    world = await startReleaseWorld();
    snapshot = async () => {
      const stateKeys = async () =>
        (await world.redis.keys()).filter((k) => /:(service|release|faulty|lock):/.test(k)).sort();
      // Read between the control loop's passes: each holds the service's traffic lock for a
      // moment (longer on a busy machine). A lock a command left behind outlasts the wait.
      let keys = await stateKeys();
      for (let i = 0; i < 100 && keys.some((k) => /:lock:traffic-/.test(k)); i += 1) {
        await new Promise((r) => setTimeout(r, 100));
        keys = await stateKeys();
      }
      const values = await Promise.all(
        keys.map((k) => world.redis.redis.hgetall(k).catch(() => ({}))),
      );
      return JSON.stringify([keys, values, await world.haproxy.serverStates('api')]);
    };
  }, 60_000);

  afterAll(async () => world?.close());

  it('answers or refuses every one cleanly: no crash, no state change, nothing reaches a shell', async () => {
    const before = await snapshot();
    const random = prng(424242);
    const requests: { body: string; headers?: Record<string, string> }[] = [];
    while (requests.length < 1500) {
      const command = COMMANDS[Math.floor(random() * COMMANDS.length)] ?? 'bump';
      const text = hostileText(random);
      if (changesState(command, text)) continue;
      requests.push({
        body: slashCommandBody({
          command: `/${command}`,
          text,
          user_id: 'U0DEV1',
          response_url: world.slack.newResponseUrl(),
        }),
      });
    }
    const base = blockActionsPayload({
      action_id: 'release_approve',
      value: 'rel-x',
      message_ts: '1.2',
      response_url: world.slack.newResponseUrl(),
    });
    for (let i = 0; i < 500; i += 1) {
      const payload = hostilePayload(random, base);
      const raw =
        random() < 0.05
          ? `payload=${encodeURIComponent('{not json')}`
          : interactionBody(payload as Record<string, unknown>);
      requests.push({ body: raw });
    }
    // A few requests with the wrong content type and no signature at all.
    requests.push({
      body: '{"command":"/bump","text":"api"}',
      headers: { 'content-type': 'application/json' },
    });
    requests.push({
      body: 'command=%2Fbump&text=api',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });

    const statuses = new Map<number, number>();
    const failures: string[] = [];
    let next = 0;
    const sendAll = async () => {
      while (next < requests.length) {
        const request = requests[next++];
        if (request === undefined) break;
        const headers = request.headers
          ? {
              ...request.headers,
              ...(request.headers['content-type'] === 'application/json'
                ? signedHeaders(SIGNING_SECRET, request.body)
                : {}),
            }
          : signedHeaders(SIGNING_SECRET, request.body);
        const reply = await world.sender.post(request.body, headers);
        statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1);
        if (reply.status >= 500 && failures.length < 5)
          failures.push(`${reply.status} ${decodeURIComponent(request.body).slice(0, 300)}`);
      }
    };
    await Promise.all(Array.from({ length: 12 }, sendAll));

    const counts = Object.fromEntries(statuses);
    expect(failures).toEqual([]);
    expect((counts[200] ?? 0) + (counts[401] ?? 0) + (counts[400] ?? 0) + (counts[404] ?? 0)).toBe(
      requests.length,
    );
    expect(counts[401]).toBeGreaterThanOrEqual(1); // the unsigned one
    expect((await fetch(`${world.app.url}/healthz`)).status).toBe(200);
    expect(world.app.child.exitCode).toBeNull();
    await new Promise((r) => setTimeout(r, 500));
    expect(await snapshot()).toBe(before);
    expect(existsSync(PWNED_FILE)).toBe(false);
    expect(await world.services.api?.deployRuns()).toEqual([]);
    expect(world.app.output.join('\n')).not.toMatch(/uncaught|unhandled rejection/i);
    expect(world.slack.violations).toEqual([]);
  });

  it('10,000 hostile strings through every free-text field: nothing typed mentions, links or formats, and nothing changes', async () => {
    const before = await snapshot();
    const calls = world.slack.calls.length;
    const responses = world.slack.responses.length;
    const random = prng(20261126);
    const bodies: string[] = [];
    const text = () => hostileText(random) || '<!here> <@U0EVIL> https://evil.example';
    const modal = (callback: string, metadata: unknown, reason: string) =>
      interactionBody(
        viewSubmissionPayload(
          { callback_id: callback, private_metadata: JSON.stringify(metadata) },
          random() < 0.5 ? 'U0LEAD' : 'U0DEV1',
          { reason: { reason_input: reason } },
        ),
      );
    for (let i = 0; i < 10_000; i += 1) {
      const kind = i % 5;
      const hostile = text();
      if (kind === 0 || kind === 1)
        // A rollback reason (refused: nothing to roll back), answered privately with the reason.
        bodies.push(
          slashCommandBody({
            command: '/rollback',
            text: `api ${hostile}`,
            user_id: 'U0LEAD',
            response_url: world.slack.newResponseUrl(),
          }),
        );
      else if (kind === 2)
        // A freeze justification, on a dry run (never acts).
        bodies.push(
          slashCommandBody({
            command: '/release',
            text: `api --dry-run --justify ${hostile}`,
            user_id: 'U0DEV1',
            response_url: world.slack.newResponseUrl(),
          }),
        );
      else if (kind === 3)
        // The reject form, for a release that does not exist (or a hostile id).
        bodies.push(
          modal(
            'release_reject_reason',
            { releaseId: random() < 0.5 ? 'rel-nope' : hostile, channel: 'C0RELEASES' },
            hostile,
          ),
        );
      // The rollback reason form.
      else
        bodies.push(modal('rollback_reason', { service: 'api', channel: 'C0RELEASES' }, hostile));
    }
    const failures: string[] = [];
    let next = 0;
    const sendAll = async () => {
      while (next < bodies.length) {
        const body = bodies[next++];
        if (body === undefined) break;
        const reply = await world.sender.post(body, signedHeaders(SIGNING_SECRET, body));
        if (reply.status !== 200 && failures.length < 5)
          failures.push(`${reply.status} ${decodeURIComponent(body).slice(0, 300)}`);
        const answer = JSON.stringify(reply.body ?? '');
        for (const token of LIVE_HOSTILE_TOKENS)
          if (token.test(answer) && failures.length < 5)
            failures.push(`ack carries ${token}: ${answer.slice(0, 300)}`);
      }
    };
    await Promise.all(Array.from({ length: 16 }, sendAll));
    expect(failures).toEqual([]);
    // Let the last answers and ephemerals land.
    await new Promise((r) => setTimeout(r, 1000));
    const sent = [
      ...world.slack.calls.slice(calls).map((c) => JSON.stringify(c.args)),
      ...world.slack.responses.slice(responses).map((r) => JSON.stringify(r.body)),
    ];
    // Every command is answered privately, every form confirmed: thousands of texts to check.
    expect(sent.length).toBeGreaterThan(5000);
    const live = sent.filter((s) => LIVE_HOSTILE_TOKENS.some((t) => t.test(s)));
    expect(live.slice(0, 3)).toEqual([]);
    expect((await fetch(`${world.app.url}/healthz`)).status).toBe(200);
    expect(world.app.child.exitCode).toBeNull();
    expect(await snapshot()).toBe(before);
    expect(world.app.output.join('\n')).not.toMatch(/uncaught|unhandled rejection/i);
    expect(world.slack.violations).toEqual([]);
    // 10,000 signed requests against one process: about a minute and a half on two cores.
  }, 300_000);
});
