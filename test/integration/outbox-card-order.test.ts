import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebClient } from '@slack/web-api';
import type { Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OutboxMessage } from '../../src/adapters/slack/outbox-message.ts';
import { outboxHandler } from '../../src/adapters/slack/outbox-worker.ts';
import { type RedisFixture, redisFixture } from '../../testkit/redis-fixture.ts';
import { SlackEmulator } from '../../testkit/slack-emulator.ts';

// Two steps can queue redraws of a release's card out of order (each queues after writing its
// state). The card must never go back to an older state: an upsert older in every revision than
// the one Slack shows is dropped. Real Redis holds what is shown; Slack is the emulator.
describe('the outbox never draws a release card over a newer one', () => {
  let slack: SlackEmulator;
  let fx: RedisFixture;
  let run = 0;

  beforeAll(async () => {
    slack = await SlackEmulator.start();
    fx = await redisFixture('outbox-order');
  });
  afterAll(async () => {
    await slack.close();
    await fx.cleanup();
  });

  function outbox() {
    const handler = outboxHandler({
      client: new WebClient(slack.botToken, {
        slackApiUrl: slack.apiUrl,
        retryConfig: { retries: 0 },
      }),
      redis: fx.redis,
      prefix: `{${fx.keyPrefix}}:t${++run}`,
      pause: async () => {},
    });
    const group = `rel-${run}`;
    const card = (text: string, version?: number[]) =>
      handler.run(
        {
          v: 1,
          mode: 'upsert',
          key: `${group}-parent`,
          group,
          channel: 'C0RELEASES',
          ...(version ? { version } : {}),
          text,
          blocks: [{ type: 'section', text: { type: 'mrkdwn', text } }],
        } satisfies OutboxMessage,
        {} as Job,
      );
    const shown = () => {
      const cards = slack.messages('C0RELEASES').filter((m) => m.text.includes(group));
      expect(cards).toHaveLength(1);
      return cards[0]?.text;
    };
    return { card, shown, group };
  }

  it('keeps "Released" when the "Observing" redraw queued before it arrives after it', async () => {
    const { card, shown, group } = outbox();
    await card(`${group} Observing 12/30 min`, [5, 3]);
    await card(`${group} Released`, [6, 3]);
    await card(`${group} Observing 13/30 min`, [5, 3]);
    expect(shown()).toBe(`${group} Released`);
  });

  it('draws whatever is newer in any revision: a later release state, a changed STANDBY line, or the same revisions again', async () => {
    const { card, shown, group } = outbox();
    await card(`${group} Ramping 20 %`, [4, 7]);
    await card(`${group} Ramping 20 %, STANDBY synced`, [4, 8]);
    expect(shown()).toBe(`${group} Ramping 20 %, STANDBY synced`);
    // A release change drawn with a service state read just before the sync: newer release, so
    // it is shown (the next redraw brings the STANDBY line back).
    await card(`${group} Ramping 50 %`, [5, 7]);
    expect(shown()).toBe(`${group} Ramping 50 %`);
    // The same revisions drawn again (an `Observing 12/30 min` tick) are shown.
    await card(`${group} Ramping 50 %, 3 min in`, [5, 7]);
    expect(shown()).toBe(`${group} Ramping 50 %, 3 min in`);
    await card(`${group} Ramping 20 %, STANDBY synced`, [4, 8]);
    expect(shown()).toBe(`${group} Ramping 20 %, STANDBY synced`);
  });

  it("draws the card of a service record adopted again after Redis lost it, and still drops the lost record's late redraws", async () => {
    const { card, shown, group } = outbox();
    // [release revision, when the service record was created, service revision]
    await card(`${group} Released, STANDBY 2.4.0`, [6, 1_000, 40]);
    // Redis lost the service record; it was adopted again (created later, revisions from 1).
    await card(`${group} Released, STANDBY 2.4.2`, [6, 2_000, 2]);
    expect(shown()).toBe(`${group} Released, STANDBY 2.4.2`);
    // A redraw the lost record queued before it went is older, whatever its revision.
    await card(`${group} Released, STANDBY 2.4.1`, [6, 1_000, 41]);
    expect(shown()).toBe(`${group} Released, STANDBY 2.4.2`);
  });

  it('still draws upserts queued without revisions (jobs from before this version)', async () => {
    const { card, shown, group } = outbox();
    await card(`${group} Released`, [6, 3]);
    await card(`${group} Awaiting approval`);
    expect(shown()).toBe(`${group} Awaiting approval`);
  });
});

describe('a Slack answer that stalls after its headers', () => {
  it('is an unanswered call: the message is tried again, not dropped', async () => {
    // Headers first, then nothing: the client's timeout fires while the body is read.
    const stalled = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"ok":');
    });
    await new Promise<void>((resolve) => stalled.listen(0, '127.0.0.1', resolve));
    const fx = await redisFixture('outbox-stall');
    const paused: number[] = [];
    try {
      const handler = outboxHandler({
        client: new WebClient('xoxb-test', {
          slackApiUrl: `http://127.0.0.1:${(stalled.address() as AddressInfo).port}/api/`,
          retryConfig: { retries: 0 },
          rejectRateLimitedCalls: true,
          timeout: 300,
        }),
        redis: fx.redis,
        prefix: `{${fx.keyPrefix}}`,
        pause: async (ms) => void paused.push(ms),
      });
      const message = {
        v: 1,
        mode: 'post',
        key: 'rel-1-note',
        group: 'rel-1',
        channel: 'C0RELEASES',
        text: 'note',
        blocks: [],
      } satisfies OutboxMessage;
      // Thrown as BullMQ's rate-limit signal: the job keeps its place and runs again.
      await expect(handler.run(message, {} as Job)).rejects.toThrow('bullmq:rateLimitExceeded');
      expect(paused).toHaveLength(1);
    } finally {
      stalled.closeAllConnections();
      await new Promise<void>((resolve) => stalled.close(() => resolve()));
      await fx.cleanup();
    }
  });
});
