import { describe, expect, it } from 'vitest';
import { releaseParentMessage } from '../../../../src/adapters/slack/blocks/release-card.ts';
import { parseConfig } from '../../../../src/config/load-config.ts';
import { newChecklist } from '../../../../src/domain/checklist.ts';
import type { Release, ReleaseState } from '../../../../src/domain/release.ts';
import { buildReleaseNotes, webLinks } from '../../../../src/domain/release-notes.ts';
import type { ServiceState } from '../../../../src/domain/service-state.ts';
import { apiConfig } from '../../../../testkit/api-config.ts';
import { blockKitViolations } from '../../../../testkit/block-kit-limits.ts';
import { releaseRecord } from '../../../../testkit/release-fixtures.ts';

// Every feature that draws on the approval card at its largest, at once: 300 commits of notes,
// 30 pre-release items with owners, three irreversible steps, 20 approvers. Slack refuses a
// message over its limits outright (invalid_blocks): the card must stay within them in every state.
const T0 = '2026-11-24T10:00:00.000Z';
const owners = Array.from({ length: 8 }, (_, i) => `U0OWNER${i}`);
const item = (i: number) =>
  `{ text: "Item ${i}: check the ${'very '.repeat(6)}long thing", required: ${i % 2 === 0}, owner: [${owners.join(', ')}] }`;
const leads = Array.from({ length: 20 }, (_, i) => `U0LEAD${i}`).join(', ');
const config = parseConfig(
  apiConfig({
    roles: `{ lead: [${leads}], team: [U0DEV2], security: [U0SEC], cto: [U0CTO] }`,
    api: `    checklists:
      pre: [${Array.from({ length: 30 }, (_, i) => item(i)).join(', ')}]
      post: [${Array.from({ length: 30 }, (_, i) => item(i)).join(', ')}]
    steps:
${['migrate', 'backfill', 'reindex']
  .map(
    (name) => `      ${name}:
        command: ["./${name}.sh"]
        reversible: false
        compensation: "https://wiki.example.com/runbooks/api-${name}-down-${'x'.repeat(120)}"
        approverRole: lead
        owner: U0DBA
        label: "Run ${name} (cannot be undone)"`,
  )
  .join('\n')}`,
  }),
);
const api = config.services.api;
if (api === undefined) throw new Error('no api');

const notes = buildReleaseNotes(
  Array.from({ length: 300 }, (_, i) => ({
    sha: `c${i}`,
    author: `Author Number ${i}`,
    subject: `${['feat', 'fix', 'perf', 'docs', 'fix(security)'][i % 5]}: change ${i} ${'with words '.repeat(6)}(#${1000 + i})`,
    body: i % 50 === 0 ? 'BREAKING CHANGE: something' : '',
  })),
  { fromTag: 'v2.4.0', toTag: 'v2.4.1', web: webLinks('https://github.com/acme/api') },
);

const steps = ['migrate', 'backfill', 'reindex'].map((name) => ({
  name,
  label: `Run ${name} (cannot be undone)`,
  reversible: false,
  approverRole: 'lead',
  compensation: `https://wiki.example.com/runbooks/api-${name}-down-${'x'.repeat(120)}`,
  owner: 'U0DBA',
  timeoutSeconds: 600,
  readyAt: T0,
}));

function release(state: ReleaseState): Release {
  const checklist = newChecklist({
    pre: api?.checklists?.pre ?? [],
    post: api?.checklists?.post ?? [],
  });
  return releaseRecord(T0, {
    state,
    approvals: state === 'awaiting_approval' ? [] : [{ role: 'lead', user: 'U0LEAD1', at: T0 }],
    notes,
    ...(checklist ? { checklist } : {}),
    steps,
    ...(state === 'observing' || state === 'released' ? { releasedAt: T0 } : {}),
  });
}

const service: ServiceState = {
  service: 'api',
  production: 'blue',
  slots: {
    blue: { version: '2.4.0', health: 'healthy', updatedAt: T0 },
    green: { version: '2.4.1', health: 'healthy', updatedAt: T0 },
  },
  operation: null,
  lastReleaseId: 'rel-1',
  revision: 4,
};

describe('the approval card at its largest', () => {
  for (const state of ['awaiting_approval', 'running_steps', 'observing', 'released'] as const) {
    it(`stays within Slack's Block Kit limits while ${state}`, () => {
      const card = releaseParentMessage(release(state), service, api, config.roles);
      expect(blockKitViolations(card)).toEqual([]);
      // The limits checker is what Slack would refuse; the card still says what matters.
      expect(JSON.stringify(card)).toContain('api 2.4.0 → 2.4.1');
    });
  }

  it('the checker sees a card over the limit (the test can fail)', () => {
    const card = releaseParentMessage(release('awaiting_approval'), service, api, config.roles);
    const blocks = [...(card.blocks ?? []), ...Array.from({ length: 50 }, () => card.blocks?.[0])];
    expect(blockKitViolations({ ...card, blocks }).length).toBeGreaterThan(0);
  });
});
