import { readFile } from 'node:fs/promises';
import { describe, expect, it, type onTestFinished } from 'vitest';
import { writeConfig } from '../../testkit/greenlight-process.ts';
import {
  bumpAndRequestRelease,
  buttonValue,
  eventually,
  pendingReleaseId,
  type ReleaseWorld,
  SIGNING_SECRET,
  startReleaseWorld,
  trafficSplit,
  type WorldOptions,
} from '../../testkit/release-world.ts';
import { slashCommandBody } from '../../testkit/slack-payloads.ts';
import { signedHeaders } from '../../testkit/slack-signing.ts';
import { IN_TURN, LANE } from '../support/step-queue.ts';

/** Issue 11: every click and command authorised, fenced, calendar-checked and acted on once. */

const REFUSED = ':no_entry:';

async function releaseRecord(w: ReleaseWorld, id: string) {
  const json = await w.redis.redis.hget(`{${w.redis.keyPrefix}}:release:${id}`, 'json');
  return json === null ? null : (JSON.parse(json) as Record<string, unknown>);
}

async function stateOf(w: ReleaseWorld, id: string): Promise<string> {
  return String((await releaseRecord(w, id))?.state ?? 'missing');
}

/** Clicks as Slack would deliver it, with an explicit value and channel. */
async function rawClick(
  w: ReleaseWorld,
  opts: { user: string; action: string; value: string; channel?: string },
): Promise<string> {
  const responseUrl = w.slack.newResponseUrl();
  const reply = await w.sender.click({
    action_id: opts.action,
    value: opts.value,
    user_id: opts.user,
    ...(opts.channel ? { channel_id: opts.channel } : {}),
    message_ts: '1.000000',
    response_url: responseUrl,
  });
  expect(reply.status).toBe(200);
  const answer = await w.slack.waitForResponse(responseUrl, 20_000);
  return `${String(answer.body.text)}\n${JSON.stringify(answer.body.blocks ?? [])}`;
}

/** Starts a test's world and closes it when the test finishes (passed or not). */
async function open(finished: typeof onTestFinished, options?: WorldOptions) {
  const world = await startReleaseWorld(options);
  finished(() => world.close());
  return world;
}

// Each test has a world of its own, closed by the test itself, so tests share nothing: the
// calendar test, which mostly waits for its freeze and its expiry, runs beside the others (two
// worlds at once), which run in turn.

describe('clicks and commands (issue 11)', () => {
  describe('lane 1', LANE, () => {
    it(
      '4. the calendar is checked when an approval would move traffic, and a pending release expires',
      IN_TURN,
      async ({ expect, onTestFinished }) => {
        const w = await open(onTestFinished, {
          serviceExtra: '    approvalTtlMinutes: 0.3\n', // replaced below
          env: { GREENLIGHT_RECONCILE_INTERVAL_SECONDS: '1' },
        });
        await w.command('U0DEV1', '/bump', 'api');
        await eventually(
          () =>
            w.slack.messages('C0RELEASES').some((m) => m.text.includes('api 2.4.1 is on STANDBY')),
          Boolean,
          30_000,
        );
        // Then a freeze is added to greenlight.yml and Greenlight restarts with it. The freeze
        // begins 8 s later: room for the restart and a /release (the cold start and the /bump
        // before it no longer count). The request, the approval refused during the freeze and
        // the expiry all happen in that one process, under one configuration. A machine so
        // starved that the freeze began first gets /release refused as frozen (rightly): then
        // the set-up is done again with 20 s of room, the whole set-up's room before.
        const config = await readFile(w.configPath, 'utf8');
        let freezeAt = 0;
        let requested = '';
        for (const room of [8_000, 20_000]) {
          freezeAt = Date.now() + room;
          // The approval TTL, counted from the request, ends at least 10 s after the freeze began.
          const ttlSeconds = room / 1000 + 10;
          const frozen = await writeConfig(
            config
              .replace('approvalTtlMinutes: 0.3', `approvalTtlMinutes: ${ttlSeconds / 60}`)
              .replace(
                /\nservices:\n/,
                `
freeze:
  - { from: "${new Date(freezeAt).toISOString()}", to: "${new Date(freezeAt + 3600_000).toISOString()}", reason: "Test freeze" }
services:
`,
              ),
          );
          await w.restart({ GREENLIGHT_CONFIG: frozen });
          requested = await w.command('U0DEV1', '/release', 'api');
          if (!requested.includes('frozen until')) break;
          // Refused as frozen is right only once the freeze has begun: a freeze that bit early
          // is a defect, not a slow machine, and must not be retried away.
          expect(Date.now(), 'refused as frozen before the freeze began').toBeGreaterThanOrEqual(
            freezeAt,
          );
        }
        expect(requested).toContain('requested');
        const id = await pendingReleaseId(w, '2.4.1');
        // When Greenlight took the request (its own record), not when the answer reached the test.
        const requestedAt = Date.parse(String((await releaseRecord(w, id))?.createdAt));
        expect(requestedAt, 'the release was requested before the freeze began').toBeLessThan(
          freezeAt,
        );
        await new Promise((r) => setTimeout(r, Math.max(0, freezeAt - Date.now() + 200)));
        const answer = await w.click('U0LEAD', 'release_approve', id);
        expect(answer).toContain(REFUSED);
        expect(answer).toContain('frozen until');
        expect(await trafficSplit(w.haproxy.frontendUrl('api'))).toEqual({ blue: 10 });
        // Nobody decides: it expires at its approval TTL (at least 10 s after the freeze began)
        // and the service is free.
        await eventually(
          () => stateOf(w, id),
          (s) => s === 'cancelled',
          45_000,
        );
        const record = await releaseRecord(w, id);
        expect(String(record?.failure)).toContain('expired');
        expect(await trafficSplit(w.haproxy.frontendUrl('api'))).toEqual({ blue: 10 });
      },
    );
  });

  describe('lane 2', LANE, () => {
    it(
      '1. a stale button never acts on a newer release, and a double Promote advances once',
      IN_TURN,
      async ({ expect, onTestFinished }) => {
        const w = await open(onTestFinished, {
          strategy: 'canary',
          stabilityWindowMinutes: 0,
          serviceExtra: `    canary: { steps: [10, 30, 60, 100], holdMinutes: 10 }
    analysis: { source: haproxy, minRequests: 0, intervalSeconds: 1, maxErrorRatePercent: 50 }
`,
        });
        const { id: first } = await bumpAndRequestRelease(w, '2.4.1');
        const firstRollback = buttonValue(w.slack, first);
        await w.reject('U0LEAD', first, 'not today');
        expect(await stateOf(w, first)).toBe('rejected');

        expect(await w.command('U0DEV1', '/release', 'api')).toContain('requested');
        const service = await w.redis.redis.hget(`{${w.redis.keyPrefix}}:service:api`, 'json');
        const second = String(JSON.parse(service ?? '{}').lastReleaseId);
        expect(second).not.toBe(first);
        // Click the second release's own card, once the outbox has posted it (Redis knows the
        // release before Slack shows it; a click on nothing is rightly refused).
        await eventually(
          () => buttonValue(w.slack, second),
          (value) => value.startsWith(`${second}:`),
          20_000,
        );
        expect(await w.click('U0LEAD', 'release_approve', second)).not.toContain(REFUSED);
        await eventually(
          () => stateOf(w, second),
          (s) => s === 'ramping',
          30_000,
        );

        // The first release's message still has its Rollback button: it must not touch the second.
        const stale = await rawClick(w, {
          user: 'U0LEAD',
          action: 'release_rollback',
          value: firstRollback,
        });
        expect(stale).toContain(REFUSED);
        const live = await releaseRecord(w, second);
        expect(live?.state).toBe('ramping');
        expect(live?.pendingRollback).toBeUndefined();

        // Promote drawn at 10 %, delivered twice: one step, to 30 %, never 60 %. The card is read
        // once it shows that step (the outbox may lag the state on a busy machine).
        await eventually(
          () => buttonValue(w.slack, second),
          (value) => value === `${second}:ramping.0`,
          20_000,
        );
        const promote = buttonValue(w.slack, second);
        const answers = await Promise.all([
          rawClick(w, { user: 'U0LEAD', action: 'release_promote', value: promote }),
          rawClick(w, { user: 'U0LEAD', action: 'release_promote', value: promote }),
        ]);
        expect(
          answers.filter((a) => a.includes('Promoting api 2.4.1 to 30 %')),
          answers.join(' | '),
        ).toHaveLength(1);
        expect(answers.filter((a) => a.includes(REFUSED))).toHaveLength(1);
        const after = await releaseRecord(w, second);
        expect((after?.canary as { stepIndex: number } | undefined)?.stepIndex).toBe(1);
      },
    );

    it(
      '2. Reject needs the requester, an approver or an operator',
      IN_TURN,
      async ({ expect, onTestFinished }) => {
        const w = await open(onTestFinished);
        const { id } = await bumpAndRequestRelease(w, '2.4.1');
        const modalsBefore = w.slack.callsTo('views.open').length;
        const answer = await rawClick(w, {
          user: 'U0STRANGER',
          action: 'release_reject',
          value: buttonValue(w.slack, id),
        });
        expect(answer).toContain(REFUSED);
        expect(answer).toContain('<@U0DEV1>'); // says who may act
        expect(w.slack.callsTo('views.open').length).toBe(modalsBefore);
        expect(await stateOf(w, id)).toBe('awaiting_approval');
        // The requester may withdraw it.
        expect(await w.reject('U0DEV1', id, 'found a bug first')).toContain('You rejected');
        expect(await stateOf(w, id)).toBe('rejected');
      },
    );

    it(
      '3. a click counts only from the service channel',
      IN_TURN,
      async ({ expect, onTestFinished }) => {
        const w = await open(onTestFinished);
        const { id } = await bumpAndRequestRelease(w, '2.4.1');
        const answer = await rawClick(w, {
          user: 'U0LEAD',
          action: 'release_approve',
          value: buttonValue(w.slack, id),
          channel: 'C0ELSEWHERE',
        });
        expect(answer).toContain(REFUSED);
        expect(answer).toContain('C0RELEASES');
        await new Promise((r) => setTimeout(r, 1000));
        expect(await stateOf(w, id)).toBe('awaiting_approval');
        expect(await trafficSplit(w.haproxy.frontendUrl('api'))).toEqual({ blue: 10 });
      },
    );

    it(
      '5. a replayed signed request acts once, and a request from the future is refused',
      IN_TURN,
      async ({ expect, onTestFinished }) => {
        const w = await open(onTestFinished);
        const body = slashCommandBody({
          command: '/bump',
          text: 'api',
          user_id: 'U0DEV1',
          response_url: w.slack.newResponseUrl(),
        });
        const headers = signedHeaders(SIGNING_SECRET, body);
        const first = await w.sender.post(body, headers);
        expect(first.status).toBe(200);
        await eventually(
          () =>
            w.slack.messages('C0RELEASES').some((m) => m.text.includes('api 2.4.1 is on STANDBY')),
          Boolean,
          30_000,
        );
        // The same bytes again, within Bolt's five-minute window: answered, nothing done.
        const again = await w.sender.post(body, headers);
        expect(again.status).toBe(200);
        expect(JSON.stringify(again.body)).toContain('already received');
        await new Promise((r) => setTimeout(r, 1500));
        expect((await w.services.api?.deployRuns())?.length).toBe(1);

        const later = slashCommandBody({
          command: '/bump',
          text: 'api',
          user_id: 'U0DEV1',
          response_url: w.slack.newResponseUrl(),
        });
        const future = await w.sender.post(
          later,
          signedHeaders(SIGNING_SECRET, later, Math.floor(Date.now() / 1000) + 600),
        );
        expect(JSON.stringify(future.body)).toContain('ahead');
        await new Promise((r) => setTimeout(r, 1500));
        expect((await w.services.api?.deployRuns())?.length).toBe(1);
      },
    );
  });
});
