import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { blockActionsPayload, slashCommandBody } from '../../../testkit/slack-payloads.ts';

const fixture = (name: string) =>
  readFileSync(new URL(`../../support/fixtures/slack/${name}`, import.meta.url), 'utf8');

describe('test payloads keep the shapes Slack sends', () => {
  it('orders and encodes slash-command fields as Slack does on the wire', () => {
    const slack = [...new URLSearchParams(fixture('slash-command.txt')).keys()].filter(
      (k) => !k.startsWith('enterprise'),
    );
    const ours = [
      ...new URLSearchParams(
        slashCommandBody({ command: '/bump', text: 'api minor', response_url: 'http://x/1' }),
      ).keys(),
    ];
    expect(ours).toEqual(slack);
    expect(
      slashCommandBody({ command: '/bump', text: 'a b', response_url: 'http://x/1' }),
    ).toContain('command=%2Fbump&text=a+b');
  });

  it('builds block_actions with the keys of a real button payload', () => {
    const slack = JSON.parse(fixture('block-actions.message-with-blocks.json')) as Record<
      string,
      unknown
    >;
    const ours = blockActionsPayload({
      action_id: 'approve',
      value: 'r1',
      message_ts: '1.2',
      response_url: 'http://x/1',
    });
    expect(Object.keys(ours).sort()).toEqual(expect.arrayContaining(Object.keys(slack).sort()));
    const action = (ours.actions as Record<string, unknown>[])[0];
    const slackAction = (slack.actions as Record<string, unknown>[])[0] ?? {};
    expect(Object.keys(action ?? {}).sort()).toEqual(Object.keys(slackAction).sort());
  });
});
