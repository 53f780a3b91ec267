// Golden files of the stakeholder family (comms.channels): the notices, the incident reminder at
// each stage and its modal, under golden-stakeholder/. After an intended change:
//
//   UPDATE_GOLDEN=1 npx vitest run test/unit/adapters/slack/stakeholder-golden.test.ts
//
// and review the diff. A missing or different file fails the test.

import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  incidentLinkModal,
  incidentReminder,
  stakeholderNotice,
} from '../../../../src/adapters/slack/blocks/stakeholder-notices.ts';
import type { Release } from '../../../../src/domain/release.ts';
import { releaseRecord } from '../../../../testkit/release-fixtures.ts';

const GOLDEN = fileURLToPath(new URL('./golden-stakeholder', import.meta.url));
const UPDATE = process.env.UPDATE_GOLDEN === '1';
const T0 = '2026-11-24T10:00:00.000Z';
const T5 = '2026-11-24T10:05:00.000Z';
const HOSTILE = '<!channel> *bold* https://evil.example <@U0CTO>';

const approved = (changes: Partial<Release>) =>
  releaseRecord(T0, { approvals: [{ role: 'lead', user: 'U0LEAD', at: T0 }], ...changes });
const rolledBack = approved({
  state: 'rolled_back',
  releasedAt: T0,
  rollback: { by: 'U0LEAD', reason: `checkout errors ${HOSTILE}`, at: T5 },
});
const due = new Date('2026-11-26T10:05:00.000Z');

const CASES: Record<string, () => unknown> = {
  'notice-started-bluegreen': () => stakeholderNotice(approved({ state: 'switching' }), 'started'),
  'notice-started-canary': () =>
    stakeholderNotice(
      approved({
        state: 'ramping',
        strategy: 'canary',
        canary: { steps: [5, 20, 50, 100], stepIndex: 0, stepStartedAt: T0 },
      }),
      'started',
    ),
  // Rings: the audience ring's weight is 0; the notice names who each ring reaches instead.
  'notice-started-rings': () =>
    stakeholderNotice(
      approved({
        state: 'ramping',
        strategy: 'canary',
        canary: {
          steps: [0, 50, 100],
          stepIndex: 0,
          stepStartedAt: T0,
          rings: [
            { name: 'internal', who: 'requests with X-Greenlight-Ring: internal', soakMinutes: 60 },
            { name: 'early', who: '50 % of everyone', soakMinutes: 60 },
            { name: 'all', who: '100 % of everyone', soakMinutes: 0 },
          ],
        },
      }),
      'started',
    ),
  'notice-released': () =>
    stakeholderNotice(approved({ state: 'released', releasedAt: T0 }), 'released'),
  'notice-rolled-back': () => stakeholderNotice(rolledBack, 'rolled_back'),
  'notice-rolled-back-automatic': () =>
    stakeholderNotice(
      { ...rolledBack, rollback: { by: 'greenlight', reason: 'error rate 3.2% > 0.5%', at: T5 } },
      'rolled_back',
    ),
  'notice-failed': () =>
    stakeholderNotice(
      approved({ state: 'failed', failure: `HAProxy unreachable ${HOSTILE}` }),
      'failed',
    ),
  'reminder-due': () => incidentReminder(rolledBack, 'due', due),
  'reminder-overdue': () => incidentReminder(rolledBack, 'overdue', due),
  'reminder-recorded': () =>
    incidentReminder(rolledBack, 'due', due, {
      url: 'https://incidents.example.com/INC-42',
      by: 'U0DEV1',
      at: '2026-11-25T09:00:00.000Z',
    }),
  'incident-link-modal': () => incidentLinkModal(rolledBack, 'C0STAKE'),
  // Opened over a recorded link (a stale "Record" button included): it shows that link.
  'incident-link-modal-recorded': () =>
    incidentLinkModal(rolledBack, 'C0STAKE', {
      url: 'https://incidents.example.com/INC-42',
      by: 'U0DEV1',
      at: '2026-11-25T09:00:00.000Z',
    }),
};

const rendered = (message: unknown) => `${JSON.stringify(message, null, 2)}\n`;

describe('golden Block Kit: stakeholder notices and the incident reminder', () => {
  for (const [name, render] of Object.entries(CASES)) {
    it(`renders ${name} as golden-stakeholder/${name}.json`, () => {
      const file = join(GOLDEN, `${name}.json`);
      const actual = rendered(render());
      if (UPDATE) {
        mkdirSync(GOLDEN, { recursive: true });
        writeFileSync(file, actual);
        return;
      }
      if (!existsSync(file))
        expect.fail(`missing golden file ${file}: run UPDATE_GOLDEN=1 and review it`);
      expect(actual).toBe(readFileSync(file, 'utf8'));
    });
  }

  it('keeps no golden file that no case renders', () => {
    const stale = readdirSync(GOLDEN).filter((f) => !(f.replace(/\.json$/, '') in CASES));
    expect(stale).toEqual([]);
  });

  it('never lets typed text mention, link or format in any of them', () => {
    for (const render of Object.values(CASES)) {
      const json = JSON.stringify(render());
      expect(json).not.toContain('<!channel>');
      expect(json).not.toContain('https://evil.example');
      expect(json).not.toContain('<@U0CTO>');
    }
  });
});
