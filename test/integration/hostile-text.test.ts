import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bumpAndRequestRelease,
  type ReleaseWorld,
  startReleaseWorld,
} from '../../testkit/release-world.ts';
import { LIVE_HOSTILE_TOKENS } from '../support/hostile-input.ts';
import { releaseReaches, releaseToGreen, trafficAllOn } from '../support/world-inspection.ts';

/**
 * Issue 14, the text leaks found by review, one by one, through signed requests against the
 * running app: each place that showed a typed reason raw now shows it under the user-text rule.
 */
const HOSTILE =
  '<!channel> <@U0EVIL> &lt;@U0EVIL&gt; <https://evil.example|dashboard> *now* \u202eLIVE';

/** Every Slack call and response_url post since `from`, as the JSON Slack would receive. */
function sentSince(w: ReleaseWorld, from: { calls: number; responses: number }): string[] {
  return [
    ...w.slack.calls.slice(from.calls).map((c) => JSON.stringify(c.args)),
    ...w.slack.responses.slice(from.responses).map((r) => JSON.stringify(r.body)),
  ];
}

const live = (texts: readonly string[]) =>
  texts.filter((t) => LIVE_HOSTILE_TOKENS.some((token) => token.test(t)));

describe('typed text never mentions, links or formats in what Greenlight sends (issue 14)', () => {
  let w: ReleaseWorld;
  const mark = () => ({ calls: w.slack.calls.length, responses: w.slack.responses.length });

  beforeAll(async () => {
    w = await startReleaseWorld({});
  }, 60_000);
  afterAll(async () => w?.close());

  it('the rollback alert (blocks and fallback text) and the thread show a hostile reason inert', async () => {
    const from = mark();
    const id = await releaseToGreen(w);
    const answer = await w.command('U0LEAD', '/rollback', `api ${HOSTILE}`);
    expect(answer).toContain('Rolling api back to 2.4.0');
    await releaseReaches(w, id, 'rolled_back');
    await trafficAllOn(w, 'blue');
    const alert = w.slack.messages('C0ALERTS').at(-1);
    expect(alert?.text).toContain('‹!channel›');
    expect(JSON.stringify(alert?.blocks)).toContain('‹@U0EVIL›');
    expect(live(sentSince(w, from))).toEqual([]);
  });

  it('/release history, the faulty-version refusal and the unmark answer show the reason inert', async () => {
    const from = mark();
    const history = await w.command('U0DEV2', '/release', 'history api 5');
    expect(history).toContain('‹!channel›');
    const refused = await w.command('U0DEV1', '/release', 'api');
    expect(refused).toContain('marked faulty');
    expect(refused).toContain('‹@U0EVIL›');
    const unmarked = await w.command('U0DEV1', '/release', 'unmark api 2.4.1');
    expect(unmarked).toContain('no longer marked faulty');
    expect(unmarked).toContain('‹https∶//evil.example❘dashboard›'.replace('❘', '|'));
    expect(live(sentSince(w, from))).toEqual([]);
  });
});

describe('a reject reason (issue 14)', () => {
  let w: ReleaseWorld;
  const mark = () => ({ calls: w.slack.calls.length, responses: w.slack.responses.length });

  beforeAll(async () => {
    w = await startReleaseWorld({});
  }, 60_000);
  afterAll(async () => w?.close());

  it('a reject reason with an escaped mention stays text in the timeline reply', async () => {
    const from = mark();
    const { id } = await bumpAndRequestRelease(w, '2.4.1');
    const confirmation = await w.reject('U0LEAD', id, HOSTILE);
    expect(confirmation).not.toContain('<!channel>');
    await releaseReaches(w, id, 'rejected');
    const reply = () =>
      w.slack
        .messages('C0RELEASES')
        .filter((m) => m.thread_ts !== undefined && m.text.includes('rejected'))
        .at(-1);
    await expect.poll(() => reply() !== undefined, { timeout: 15_000 }).toBe(true);
    expect(JSON.stringify(reply())).toContain('＆lt;@U0EVIL＆gt;');
    expect(live(sentSince(w, from))).toEqual([]);
  });
});
