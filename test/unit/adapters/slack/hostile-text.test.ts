import { describe, expect, it } from 'vitest';
import { driftMessage, rollbackAlert } from '../../../../src/adapters/slack/blocks/alerts.ts';
import { deployMessage } from '../../../../src/adapters/slack/blocks/deploy-messages.ts';
import { rejectModal, rollbackReasonModal } from '../../../../src/adapters/slack/blocks/modals.ts';
import {
  answerMessage,
  refusalAnswer,
} from '../../../../src/adapters/slack/blocks/private-answers.ts';
import { releaseParentMessage } from '../../../../src/adapters/slack/blocks/release-card.ts';
import {
  noteMessage,
  progressMessage,
  timelineReply,
} from '../../../../src/adapters/slack/blocks/thread-replies.ts';
import { parseCommand } from '../../../../src/adapters/slack/command-args.ts';
import type { ReleaseError } from '../../../../src/app/release-error.ts';
import {
  refuseFaulty,
  releaseHistory,
  unmarkFaulty,
} from '../../../../src/app/use-cases/release-history.ts';
import type { Release } from '../../../../src/domain/release.ts';
import { transition } from '../../../../src/domain/release-machine.ts';
import { userText } from '../../../../src/domain/user-text.ts';
import { apiConfig } from '../../../../testkit/api-config.ts';
import { memoryWorld } from '../../../../testkit/memory-deps.ts';
import { releaseRecord, serviceRecord } from '../../../../testkit/release-fixtures.ts';
import { hostileText, LIVE_HOSTILE_TOKENS, prng } from '../../../support/hostile-input.ts';

/**
 * Issue 14: one rule for text a person typed. Hostile strings go in through the real entry
 * points (command parsing, the release machine's events, stored marks) and out through every
 * message builder; nothing typed may mention, link or format, and no hidden character survives.
 */
const AT = '2026-11-24T10:00:00.000Z';
const YAML = apiConfig({
  roles: '{ lead: [U0LEAD], security: [S0SECURITY], team: [U0DEV2], cto: [U0CTO] }',
  api: '    runbookUrl: "https://runbooks.example.com/api"',
});

const FIXED = [
  '<!channel> checkout is down',
  '<https://evil.example|dashboard>',
  'see https://evil.example/login now',
  '<@U0EVIL> please look',
  '&lt;@U0EVIL&gt; escaped already',
  '<!subteam^S0EVIL> and <!here> and <!everyone>',
  '*bold* _it_ ~strike~ `code` ```evil```',
  '> quoted\n\n\n\n\nfar below',
  'right-to-left \u202eLIVE and zero\u200bwidth \u2066isolate\u2069',
  `long ${'x'.repeat(5_000)}`,
];

/** Every message Greenlight could send with `typed` inside, each as the JSON Slack receives. */
async function rendered(typed: string): Promise<string[]> {
  const w = memoryWorld(YAML, new Date(AT));
  const config = w.deps.config.services.api;
  if (config === undefined) throw new Error('no api');
  const parsedReason = parseCommand('rollback', `api ${typed}`, ['api']);
  const reason =
    parsedReason.ok && parsedReason.request.kind === 'rollback'
      ? (parsedReason.request.reason ?? 'x')
      : 'x';
  const parsedJustification = parseCommand('release', `api --justify ${typed}`, ['api']);
  const justification =
    parsedJustification.ok && parsedJustification.request.kind === 'release'
      ? (parsedJustification.request.justification ?? 'x')
      : 'x';
  // Through the machine, as the app does: raw text in, what it stores and tells out.
  let r: Release = releaseRecord(AT, {
    strategy: 'canary',
    freezeException: { justification, window: 'frozen (Black Friday)' },
  });
  r = transition(r, { type: 'reject', user: 'U0LEAD', reason: typed }, new Date(AT)).release;
  const rejected = r;
  let live: Release = releaseRecord(AT, {
    state: 'ramping',
    strategy: 'canary',
    canary: { steps: [20, 100], stepIndex: 0, stepStartedAt: AT },
    approvals: [{ role: 'lead', user: 'U0LEAD', at: AT }],
  });
  live = transition(live, { type: 'pause', user: 'U0LEAD', reason: typed }, new Date(AT)).release;
  const paused = live;
  live = transition(
    live,
    { type: 'rollback', user: 'U0LEAD', reason: typed },
    new Date(AT),
  ).release;
  const rolling = live;
  const released = releaseRecord(AT, {
    state: 'released',
    releasedAt: AT,
    approvals: [{ role: 'lead', user: 'U0LEAD', at: AT }],
  });
  const late = transition(
    released,
    { type: 'rollback_requested', user: 'U0DEV1', reason: typed },
    new Date(AT),
  ).release;
  const state = serviceRecord(AT);
  w.releases.set(rolling.id, rolling);
  w.services.set('api', state);
  await w.deps.faulty.mark('api', {
    version: '2.4.1',
    by: 'U0LEAD',
    reason,
    at: AT,
    releaseId: rolling.id,
  });
  const messages: unknown[] = [
    releaseParentMessage(rejected, state, config),
    releaseParentMessage(paused, state, config),
    releaseParentMessage(rolling, state, config),
    releaseParentMessage(late, state, config),
    releaseParentMessage(
      releaseRecord(AT, { freezeException: { justification, window: 'w' } }),
      state,
      config,
    ),
    timelineReply(rejected),
    timelineReply(paused),
    timelineReply(rolling),
    timelineReply(late),
    rollbackAlert(rolling, config, 'in_progress'),
    rollbackAlert({ ...rolling, failure: typed }, config, 'failed'),
    progressMessage(paused, config, new Date(AT), []),
    deployMessage(
      {
        service: 'api',
        version: '2.4.1',
        slot: 'green',
        kind: 'bump',
        by: 'U0DEV1',
        productionVersion: '2.4.0',
      } as never,
      { ok: false, reason: typed, outputTail: typed } as never,
    ),
    driftMessage(typed),
    noteMessage(typed),
    rejectModal(rejected, 'C0RELEASES'),
    rollbackReasonModal({ service: 'api', channel: 'C0RELEASES' }, typed),
    answerMessage(await releaseHistory(w.deps, { service: 'api', limit: 5 })),
    await refuseFaulty(w.deps, 'api', '2.4.1', 'it cannot be released').then(
      () => {
        throw new Error('a version marked faulty must be refused');
      },
      (error: ReleaseError) => refusalAnswer(error.message, error.hint),
    ),
    answerMessage(await unmarkFaulty(w.deps, { service: 'api', version: '2.4.1', by: 'U0LEAD' })),
  ];
  return messages.map((m) => JSON.stringify(m));
}

/** Formatting means nothing inside a code block Greenlight opened (a deploy's output). */
const FORMATTING = ['/\\*bold\\*/', '/~strike~/'];

function violations(json: string): string[] {
  const outsideCode = json.replace(/```[\s\S]*?```/g, '');
  const found = LIVE_HOSTILE_TOKENS.filter((t) =>
    FORMATTING.includes(String(t)) ? t.test(outsideCode) : t.test(json),
  ).map(String);
  // Invisible characters can arrive JSON-escaped too.
  if (/\\u(202[a-e]|200b|206[6-9])/i.test(json)) found.push('escaped invisible character');
  return found;
}

describe('one rule for text a person typed (issue 14)', () => {
  it.each(FIXED.map((text) => [text.slice(0, 50), text]))(
    'nothing in %j mentions, links, formats or hides in any message',
    async (_label, typed) => {
      for (const json of await rendered(typed))
        expect(violations(json), json.slice(0, 400)).toEqual([]);
    },
  );

  it('holds for 300 generated hostile strings through every builder', async () => {
    const random = prng(1411);
    for (let i = 0; i < 300; i += 1) {
      const typed = hostileText(random);
      for (const json of await rendered(typed))
        expect(
          violations(json),
          `${JSON.stringify(typed).slice(0, 200)} → ${json.slice(0, 300)}`,
        ).toEqual([]);
    }
  });

  it('the check itself sees a live token when one is there', () => {
    expect(violations('{"text":"<!here> <@U0EVIL> https://evil.example"}')).not.toEqual([]);
    expect(violations('{"text":"ok \\u202e"}')).not.toEqual([]);
  });

  it('keeps what was typed readable, cut to 500 characters, and is idempotent', () => {
    const typed = '<!channel> rollback: *errors* at https://status.example & more';
    const once = userText(typed);
    expect(once).toBe('‹!channel› rollback: ∗errors∗ at https∶//status.example ＆ more');
    expect(userText(once)).toBe(once);
    expect([...userText('y'.repeat(2_000))]).toHaveLength(500);
  });

  it('leaves the mentions Greenlight writes itself live', async () => {
    const r = transition(
      releaseRecord(AT, { state: 'released', releasedAt: AT }),
      { type: 'rollback_requested', user: 'U0DEV1', reason: '<@U0EVIL> says so' },
      new Date(AT),
    ).release;
    const approved = transition(
      r,
      { type: 'rollback', user: 'U0DEV1', reason: '<@U0EVIL> says so', approvedBy: 'U0LEAD' },
      new Date(AT),
    ).release;
    const reply = JSON.stringify(timelineReply(approved));
    expect(reply).toContain('<@U0LEAD>');
    expect(reply).not.toContain('<@U0EVIL');
    expect(reply).toContain('‹@U0EVIL›');
  });
});
