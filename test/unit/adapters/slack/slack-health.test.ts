import { describe, expect, it } from 'vitest';
import { SlackHealth } from '../../../../src/adapters/slack/slack-health.ts';

function health(answers: (string | undefined)[], probeMs = 0) {
  let clock = 0;
  const reported: number[] = [];
  const logged: string[] = [];
  let calls = 0;
  const h = new SlackHealth({
    probe: async () => {
      calls += 1;
      clock += probeMs;
      const error = answers.shift();
      if (error !== undefined) throw new Error(error);
    },
    report: (up) => reported.push(up),
    log: {
      warn: (_f, m) => logged.push(`warn: ${m}`),
      info: (_f, m) => logged.push(`info: ${m}`),
    },
    freshMs: 10_000,
    now: () => clock,
  });
  return {
    h,
    reported,
    logged,
    calls: () => calls,
    advance: (ms: number) => {
      clock += ms;
    },
  };
}

describe("Slack's health: a metric and a log line, never a wait", () => {
  it('answers from memory and checks in the background when stale', async () => {
    const t = health([undefined, 'token_revoked', undefined]);
    expect(t.h.status()).toBe('unknown');
    await t.h.refresh();
    expect(t.h.status()).toBe('ok');
    expect(t.calls()).toBe(1);
    t.advance(10_000);
    await t.h.refresh();
    expect(t.h.status()).toBe('auth.test failed: token_revoked');
    t.advance(10_000);
    await t.h.refresh();
    expect(t.reported).toEqual([1, 0, 1]);
    expect(t.logged).toEqual([
      'warn: Slack does not accept the bot token; messages wait in the outbox and readiness is unaffected',
      'info: Slack accepts the bot token again',
    ]);
  });

  it('runs one check at a time and none while the last result is fresh', async () => {
    const t = health([undefined]);
    await Promise.all([t.h.refresh(), t.h.refresh(), t.h.refresh()]);
    t.h.status();
    await t.h.refresh();
    expect(t.calls()).toBe(1);
  });

  it('the periodic watch checks on every tick, although each result is stamped when its check ended', async () => {
    // auth.test takes 400 ms; the watch ticks every 10 s from the first check's start.
    const t = health([undefined, 'token_revoked', undefined], 400);
    await t.h.checkNow();
    t.advance(10_000 - 400);
    // The result is 9.6 s old at the tick: a staleness check would skip it (the old watch did).
    await t.h.refresh();
    expect(t.calls()).toBe(1);
    await t.h.checkNow();
    expect(t.calls()).toBe(2);
    expect(t.h.status()).toBe('auth.test failed: token_revoked');
    t.advance(10_000 - 400);
    await t.h.checkNow();
    expect(t.h.status()).toBe('ok');
    expect(t.reported).toEqual([1, 0, 1]);
  });

  it('the watch never starts a second check beside a running one', async () => {
    const t = health([undefined]);
    await Promise.all([t.h.checkNow(), t.h.refresh(), t.h.checkNow()]);
    expect(t.calls()).toBe(1);
  });
});
