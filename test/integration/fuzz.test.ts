import { existsSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCommand } from '../../src/adapters/slack/command-args.ts';
import { hostilePayload, hostileText, PWNED_FILE, prng } from '../support/hostile-input.ts';
import { type ReleaseWorld, SIGNING_SECRET, startReleaseWorld } from '../support/release-world.ts';
import {
  blockActionsPayload,
  interactionBody,
  slashCommandBody,
} from '../support/slack-payloads.ts';
import { signedHeaders } from '../support/slack-signing.ts';

const COMMANDS = ['bump', 'release', 'sync', 'rollback'] as const;

/** Would this text change state if accepted? The fuzz keeps to input that must be refused or read. */
function changesState(command: (typeof COMMANDS)[number], text: string): boolean {
  const parsed = parseCommand(command, text, ['api']);
  if (!parsed.ok) return false;
  const request = parsed.request;
  if (
    request.kind === 'release-status' ||
    request.kind === 'release-help' ||
    request.kind === 'release-history'
  )
    return false;
  if ('dryRun' in request && request.dryRun) return false;
  return request.kind === 'bump' || request.kind === 'sync' || request.kind === 'release';
}

describe('hostile input: thousands of generated commands and payloads', () => {
  let world: ReleaseWorld;
  let snapshot: () => Promise<string>;

  beforeAll(async () => {
    rmSync(PWNED_FILE, { force: true });
    world = await startReleaseWorld();
    snapshot = async () => {
      const keys = (await world.redis.keys())
        .filter((k) => /:(service|release|faulty|lock):/.test(k))
        .sort();
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
});
