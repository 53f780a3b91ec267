// Golden files of every message family's Block Kit JSON, so a reviewer sees a message change as a
// diff of test/unit/adapters/slack/golden/<family>/<case>.json.
//
// A missing or different golden file fails the test. After an intended change to a message,
// rewrite the files and review the diff:
//
//   UPDATE_GOLDEN=1 npx vitest run test/unit/adapters/slack/golden.test.ts
//
// UPDATE_GOLDEN=1 also deletes golden files that no case renders any more.

import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  adoptedMessage,
  driftMessage,
  rollbackAlert,
} from '../../../../src/adapters/slack/blocks/alerts.ts';
import { postChecklistMessage } from '../../../../src/adapters/slack/blocks/checklist-blocks.ts';
import { deployMessage } from '../../../../src/adapters/slack/blocks/deploy-messages.ts';
import { flagMessage } from '../../../../src/adapters/slack/blocks/flag-messages.ts';
import { rejectModal, rollbackReasonModal } from '../../../../src/adapters/slack/blocks/modals.ts';
import {
  answerMessage,
  apologyAnswer,
  helpAnswer,
  refusalAnswer,
  usageAnswer,
} from '../../../../src/adapters/slack/blocks/private-answers.ts';
import { releaseParentMessage } from '../../../../src/adapters/slack/blocks/release-card.ts';
import { releaseNotesMessage } from '../../../../src/adapters/slack/blocks/release-notes-thread.ts';
import {
  completionReport,
  noteMessage,
  progressMessage,
  timelineReply,
} from '../../../../src/adapters/slack/blocks/thread-replies.ts';
import type { DeployNotice } from '../../../../src/app/ports.ts';
import { parseConfig } from '../../../../src/config/load-config.ts';
import { type Checklist, newChecklist } from '../../../../src/domain/checklist.ts';
import type { Release, ReleaseState } from '../../../../src/domain/release.ts';
import { transition } from '../../../../src/domain/release-machine.ts';
import { buildReleaseNotes, webLinks } from '../../../../src/domain/release-notes.ts';
import type { ServiceState } from '../../../../src/domain/service-state.ts';
import { apiConfig } from '../../../../testkit/api-config.ts';

const GOLDEN = fileURLToPath(new URL('./golden', import.meta.url));
const UPDATE = process.env.UPDATE_GOLDEN === '1';

// Fixed inputs: every time below is a literal, so the output never depends on the clock.
const T0 = '2026-11-24T10:00:00.000Z';
const T5 = '2026-11-24T10:05:00.000Z';
const T12 = '2026-11-24T10:12:00.000Z';
const T35 = '2026-11-24T10:35:00.000Z';
const NOW = new Date(T12);

const CONFIG = parseConfig(
  apiConfig({
    roles: '{ lead: [U0LEAD], security: [S0SECURITY], team: [U0DEV2], cto: [U0CTO] }',
    api: `    stabilityWindowMinutes: 30
    runbookUrl: https://wiki.example.com/runbooks/api
    dashboardUrl: https://grafana.example.com/d/api`,
    others: `  web:
    channel: C0RELEASES
    bootstrap: { production: blue, version: 1.8.0 }
    slots: { blue: { url: "http://127.0.0.1:4001" }, green: { url: "http://127.0.0.1:4002" } }
    deploy: { command: ["./deploy.sh"] }
    traffic: { haproxy: { runtimeApi: "127.0.0.1:9998", backend: web, servers: { blue: blue, green: green } } }
    strategy: canary
    canary: { steps: [10, 50, 100], holdMinutes: 10 }`,
  }),
);
const API = CONFIG.services.api;
const WEB = CONFIG.services.web;
if (API === undefined || WEB === undefined) throw new Error('fixture config lost a service');

/** What a person typed, with everything Slack would turn into a mention or a link. */
const HOSTILE = 'ping <!channel> and <@U0BOSS>, see <https://evil.example|docs> *now*';

function release(state: ReleaseState, extra: Partial<Release> = {}): Release {
  return {
    id: 'rel-1',
    service: 'api',
    version: '2.4.1',
    fromVersion: '2.4.0',
    type: 'patch',
    strategy: 'bluegreen',
    requester: 'U0DEV1',
    requiredRoles: ['lead', 'security'],
    approvals: [],
    state,
    stateSince: T0,
    fromSlot: 'blue',
    toSlot: 'green',
    timeline: [],
    createdAt: T0,
    updatedAt: T0,
    revision: 3,
    ...extra,
  };
}

const canary = (state: ReleaseState, extra: Partial<Release> = {}) =>
  release(state, {
    service: 'web',
    version: '1.9.0',
    fromVersion: '1.8.0',
    type: 'minor',
    strategy: 'canary',
    requiredRoles: ['team'],
    approvals: [{ role: 'team', user: 'U0DEV2', at: T0 }],
    releasedAt: T0,
    canary: { steps: [10, 50, 100], stepIndex: 0, stepStartedAt: T5 },
    ...extra,
  });

/** After the switch: green is PRODUCTION with the new version, blue STANDBY with the old. */
function service(production: 'blue' | 'green', name = 'api'): ServiceState {
  const [oldVersion, newVersion] = name === 'api' ? ['2.4.0', '2.4.1'] : ['1.8.0', '1.9.0'];
  return {
    service: name,
    production,
    slots: {
      blue: { version: oldVersion, health: 'healthy', updatedAt: T0 },
      green: { version: newVersion, health: 'healthy', updatedAt: T0 },
    },
    operation: null,
    lastReleaseId: 'rel-1',
    revision: 4,
  };
}

/** Release notes as requestRelease stores them, one commit of each kind and a hostile one. */
const NOTES = buildReleaseNotes(
  [
    { sha: 'a1', author: 'Ann', subject: 'feat(api): export releases as CSV (#12)', body: '' },
    { sha: 'a2', author: 'Bob', subject: 'fix: crash on an empty history (#13)', body: '' },
    { sha: 'a3', author: 'Cy', subject: 'refactor(auth): tokens', body: 'BREAKING CHANGE: v1' },
    { sha: 'a4', author: 'Sec', subject: 'fix(security): escape names (#15)', body: '' },
    { sha: 'a5', author: '<!channel>', subject: HOSTILE, body: '' },
  ],
  { fromTag: 'v2.4.0', toTag: 'v2.4.1', web: webLinks('https://github.com/acme/api') },
);

const approved = [
  { role: 'lead', user: 'U0LEAD', at: T5 },
  { role: 'security', user: 'U0SEC', at: T5 },
];
const observing = {
  approvals: approved,
  releasedAt: T5,
  observeUntil: T35,
  stateSince: T5,
  updatedAt: T12,
};
const readings = {
  checks: 3,
  breaches: 1,
  lastVerdict: 'inconclusive' as const,
  lastFigures: ['errors 0.4 % vs 0.2 %'],
  canary: {
    requests: 1200,
    errors: 5,
    errorRatePercent: 0.42,
    latencyMs: 180,
    latencyKind: 'mean' as const,
  },
  baseline: {
    requests: 10800,
    errors: 22,
    errorRatePercent: 0.2,
    latencyMs: 150,
    latencyKind: 'mean' as const,
  },
  evidence: {
    intervals: 3,
    canaryRequests: 1200,
    canaryErrors: 5,
    baselineRequests: 10800,
    baselineErrors: 22,
    groups: [
      {
        sharePercent: 10,
        canaryRequests: 1200,
        canaryErrors: 5,
        baselineRequests: 10800,
        baselineErrors: 22,
        errorWeightedShare: 2,
      },
    ],
  },
};

/** A migration that cannot be undone, as a release records it, not run yet. */
const MIGRATE = {
  name: 'migrate',
  label: 'Run migration (cannot be undone)',
  reversible: false,
  approverRole: 'lead',
  compensation: 'https://wiki.example.com/runbooks/api-migrate-down',
  owner: 'U0DBA',
  timeoutSeconds: 600,
  readyAt: T5,
};
const MIGRATED = { ...MIGRATE, approvedBy: 'U0LEAD', startedAt: T5, finishedAt: T5 };

const bump: DeployNotice = {
  operationId: 'op-1',
  kind: 'bump',
  service: 'api',
  version: '2.4.1',
  slot: 'green',
  slotUrl: 'http://127.0.0.1:3002',
  by: 'U0DEV1',
  productionVersion: '2.4.0',
};
const sync: DeployNotice = { ...bump, kind: 'sync', version: '2.4.1', slot: 'blue' };

/** Each family's cases: a name (the golden file's) and the message it renders. */
const FAMILIES: Record<string, Record<string, () => unknown>> = {
  'release-card': {
    'awaiting-approval': () =>
      releaseParentMessage(
        release('awaiting_approval', {
          approvals: [{ role: 'lead', user: 'U0LEAD', at: T5 }],
          type: 'hotfix',
          freezeException: { window: 'the holiday freeze', justification: HOSTILE },
        }),
        service('blue'),
        API,
        CONFIG.roles,
      ),
    'awaiting-approval-notes': () =>
      releaseParentMessage(
        release('awaiting_approval', { notes: NOTES }),
        service('blue'),
        API,
        CONFIG.roles,
      ),
    'awaiting-approval-notes-unavailable': () =>
      releaseParentMessage(
        release('awaiting_approval', {
          notes: { ok: false, reason: 'tag v2.4.1 not found in https://github.com/acme/api.git' },
        }),
        service('blue'),
        API,
        CONFIG.roles,
      ),
    'awaiting-approval-steps': () =>
      releaseParentMessage(
        release('awaiting_approval', {
          steps: [
            { name: 'warm', label: 'Run warm', reversible: true, timeoutSeconds: 60 },
            MIGRATE,
          ],
        }),
        service('blue'),
        API,
        CONFIG.roles,
      ),
    'running-steps-awaiting-step-approval': () =>
      releaseParentMessage(
        release('running_steps', { approvals: approved, steps: [MIGRATE], revision: 5 }),
        service('blue'),
        API,
        CONFIG.roles,
      ),
    'running-steps-running': () =>
      releaseParentMessage(
        release('running_steps', {
          approvals: approved,
          steps: [{ ...MIGRATE, approvedBy: 'U0LEAD', startedAt: T5 }],
        }),
        service('blue'),
        API,
        CONFIG.roles,
      ),
    'running-steps-cut-off': () =>
      releaseParentMessage(
        release('running_steps', {
          approvals: approved,
          steps: [{ ...MIGRATE, approvedBy: 'U0LEAD', startedAt: T5, interruptedAt: T5 }],
          revision: 7,
        }),
        service('blue'),
        API,
        CONFIG.roles,
      ),
    'canary-ramping': () =>
      releaseParentMessage(canary('ramping'), service('blue', 'web'), WEB, CONFIG.roles),
    'canary-awaiting-promotion': () =>
      releaseParentMessage(
        canary('ramping', {
          canary: {
            steps: [10, 50, 100],
            stepIndex: 1,
            stepStartedAt: T5,
            awaitingPromotion: true,
          },
        }),
        service('blue', 'web'),
        WEB,
      ),
    'canary-without-evidence-paused': () =>
      releaseParentMessage(
        canary('ramping', {
          canary: {
            steps: [10, 50, 100],
            stepIndex: 0,
            stepStartedAt: T5,
            withoutEvidence: 'fewer than 100 requests',
          },
          paused: { by: 'greenlight', reason: 'analysis inconclusive', at: T12, revision: 7 },
        }),
        service('blue', 'web'),
        WEB,
      ),
    observing: () => releaseParentMessage(release('observing', observing), service('green'), API),
    'observing-paused': () =>
      releaseParentMessage(
        release('observing', {
          ...observing,
          paused: { by: 'U0LEAD', reason: HOSTILE, at: T12, revision: 6 },
        }),
        service('green'),
        API,
      ),
    released: () =>
      releaseParentMessage(release('released', { ...observing }), service('green'), API),
    'released-rollback-requested': () =>
      releaseParentMessage(
        release('released', {
          ...observing,
          pendingRollback: { by: 'U0DEV1', reason: 'checkout errors', at: T35 },
        }),
        service('green'),
        API,
      ),
    rejected: () =>
      releaseParentMessage(
        release('rejected', { decidedBy: 'U0LEAD', rejectReason: HOSTILE }),
        service('blue'),
        API,
      ),
    'rolled-back-automatic': () =>
      releaseParentMessage(
        release('rolled_back', {
          ...observing,
          rollback: { by: 'greenlight', reason: 'error rate 3.2% > 0.5%', at: T12, path: 'switch' },
        }),
        service('blue'),
        API,
      ),
    'rolling-back-approved': () =>
      releaseParentMessage(
        release('rolling_back', {
          ...observing,
          rollback: { by: 'U0DEV1', approvedBy: 'U0LEAD', reason: 'checkout errors', at: T35 },
        }),
        service('green'),
        API,
      ),
    failed: () =>
      releaseParentMessage(
        release('failed', { approvals: approved, failure: 'HAProxy did not confirm the switch' }),
        service('blue'),
        API,
      ),
  },
  'thread-replies': {
    'timeline-approval': () =>
      timelineReply(
        release('awaiting_approval', {
          timeline: [{ at: T5, who: 'U0LEAD', what: 'approved as lead' }],
        }),
      ),
    'timeline-switched-cc-requester': () =>
      timelineReply(
        release('observing', {
          ...observing,
          timeline: [{ at: T5, who: 'greenlight', what: 'traffic switched blue → green' }],
        }),
      ),
    'timeline-hostile-entry': () =>
      timelineReply(
        release('rejected', {
          stateSince: T5,
          timeline: [{ at: T5, who: 'U0LEAD', what: `rejected it: ${HOSTILE}` }],
        }),
      ),
    'completion-observing': () =>
      completionReport(release('observing', observing), service('green'), API),
    'completion-released': () =>
      completionReport(release('released', observing), service('green'), API),
    'progress-awaiting-approval': () =>
      progressMessage(release('awaiting_approval'), API, NOW, ['lead', 'security']),
    'progress-running-steps': () =>
      progressMessage(
        release('running_steps', { approvals: approved, steps: [MIGRATE] }),
        API,
        NOW,
        [],
      ),
    'progress-canary': () =>
      progressMessage(canary('ramping', { analysis: readings }), WEB, NOW, []),
    'progress-observing': () =>
      progressMessage(release('observing', { ...observing, analysis: readings }), API, NOW, []),
    note: () => noteMessage(`Gate \`smoke\` answered: ${HOSTILE}`),
    'release-notes': () => releaseNotesMessage(release('released', { ...observing, notes: NOTES })),
  },
  alerts: {
    'rollback-in-progress': () =>
      rollbackAlert(
        release('rolling_back', {
          ...observing,
          rollback: { by: 'U0DEV1', reason: HOSTILE, at: T35, path: 'switch' },
        }),
        API,
        'in_progress',
      ),
    'rollback-done-automatic': () =>
      rollbackAlert(
        canary('rolled_back', {
          analysis: readings,
          rollback: { by: 'greenlight', reason: 'strong evidence of more errors', at: T12 },
        }),
        WEB,
        'done',
      ),
    'rollback-done-redeploy': () =>
      rollbackAlert(
        release('rolled_back', {
          ...observing,
          rollback: {
            by: 'U0DEV1',
            approvedBy: 'U0LEAD',
            reason: 'checkout errors',
            at: T35,
            path: 'redeploy',
          },
        }),
        API,
        'done',
      ),
    'rollback-failed': () =>
      rollbackAlert(
        release('failed', {
          ...observing,
          failure: 'deploy of 2.4.0 to blue timed out',
          rollback: { by: 'U0DEV1', reason: 'checkout errors', at: T35, path: 'redeploy' },
        }),
        API,
        'failed',
      ),
    'rollback-done-after-irreversible-step': () =>
      rollbackAlert(
        release('rolled_back', {
          ...observing,
          steps: [MIGRATED],
          rollback: { by: 'U0DEV1', reason: 'checkout errors', at: T35, path: 'switch' },
        }),
        API,
        'done',
      ),
    'rollback-done-with-flags': () =>
      rollbackAlert(
        release('rolled_back', {
          ...observing,
          flags: [
            { name: 'new-checkout', percent: 50, by: 'U0DEV1', at: T12 },
            { name: 'dark-mode', percent: 0, by: 'U0DEV1', at: T12 },
          ],
          rollback: {
            by: 'greenlight',
            reason: 'error rate 3.2 % > 0.5 %',
            at: T35,
            path: 'switch',
            flags: [
              { name: 'new-checkout', ok: false, detail: `Unleash is unreachable ${HOSTILE}` },
              { name: 'dark-mode', ok: true, detail: 'off' },
            ],
          },
        }),
        API,
        'done',
      ),
    'flag-off': () =>
      flagMessage(
        {
          service: 'api',
          flag: 'new-checkout',
          environment: 'production',
          by: 'U0DEV1',
          percent: 0,
          reason: HOSTILE,
          release: release('observing', observing),
        },
        true,
      ),
    'flag-percent': () =>
      flagMessage(
        {
          service: 'api',
          flag: 'new-checkout',
          environment: 'production',
          by: 'U0DEV1',
          percent: 10,
        },
        false,
      ),
    drift: () => driftMessage('HAProxy sends api to blue, Greenlight expects green'),
    adopted: () => adoptedMessage('api: PRODUCTION is green (2.4.1) as HAProxy reports'),
  },
  'deploy-messages': {
    'bump-started': () => deployMessage(bump),
    'bump-healthy': () => deployMessage(bump, { ok: true }),
    'sync-healthy': () => deployMessage(sync, { ok: true }),
    'bump-failed': () =>
      deployMessage(bump, {
        ok: false,
        reason: 'deploy command exited with code 2',
        outputTail: 'pulling image\n```\nerror: <!here> manifest unknown',
      }),
  },
  modals: {
    reject: () => rejectModal(release('awaiting_approval'), 'C0RELEASES'),
    'reject-with-stage': () =>
      rejectModal(release('awaiting_approval'), 'C0RELEASES', 'awaiting_approval'),
    'rollback-reason': () =>
      rollbackReasonModal(
        { service: 'api', channel: 'C0RELEASES' },
        'Rolling back api means deploying 2.4.0 to blue first.',
      ),
  },
  checklists: {
    'card-pre-partly-ticked': () =>
      releaseParentMessage(
        release('awaiting_approval', { checklist: CHECKLIST }),
        service('blue'),
        API,
        CONFIG.roles,
      ),
    'card-pre-after-approval': () =>
      releaseParentMessage(
        release('released', { checklist: CHECKLIST, releasedAt: T5 }),
        service('green'),
        API,
        CONFIG.roles,
      ),
    'post-tracked': () =>
      postChecklistMessage(release('released', { checklist: CHECKLIST, releasedAt: T5 })),
    'post-closed': () =>
      postChecklistMessage(
        release('released', { checklist: { ...CHECKLIST, postClosedAt: T35 }, releasedAt: T5 }),
      ),
    'card-pre-optional-only': () =>
      releaseParentMessage(
        release('awaiting_approval', {
          checklist: {
            ...CHECKLIST,
            pre: CHECKLIST.pre.filter((i) => !i.required),
            ticks: [],
          },
        }),
        service('blue'),
        API,
        CONFIG.roles,
      ),
    'rollback-ends-post': () =>
      timelineReply(
        transition(
          release('released', { checklist: CHECKLIST, releasedAt: T5 }),
          { type: 'rollback', user: 'U0LEAD', reason: 'error rate up' },
          NOW,
        ).release,
      ),
    'progress-open-items': () =>
      progressMessage(release('awaiting_approval', { checklist: CHECKLIST }), API, NOW, ['lead']),
  },
  'private-answers': {
    'usage-unknown-level': () =>
      usageAnswer('bump', { code: 'unknown_level', given: HOSTILE }, ['api', 'web']),
    'usage-missing-service': () => usageAnswer('rollback', { code: 'missing_service' }, ['api']),
    help: () => helpAnswer(['api', 'web']),
    refusal: () =>
      refusalAnswer('A release of api is already waiting for approval.', 'Reject it first.'),
    apology: () => apologyAnswer({ kind: 'rollback', service: 'api', dryRun: false }),
    answer: () =>
      answerMessage({
        message: '*Dry run:* `/release api` would do this:',
        details: ['1. check STANDBY green (2.4.1)', '2. ask lead and security to approve'],
        hint: 'Nothing was changed.',
      }),
  },
};

/** Pre and post items, owners (a user and a group), a hostile item text, some ticked. */
const CHECKLIST: Checklist = {
  ...(newChecklist({
    pre: [
      { text: 'Release notes reviewed', required: true },
      { text: 'Rollback plan confirmed', required: true },
      { text: 'On-call <!here> aware *now*', required: false },
    ],
    post: [
      { text: 'Smoke test passed', required: true, owner: ['U0QA'] },
      { text: 'Stakeholders told', required: false, owner: ['S0SECURITY', 'U0PM'] },
    ],
  }) as Checklist),
  ticks: [
    { item: 'pre-0', by: 'U0DEV1', at: T0 },
    { item: 'post-0', by: 'U0QA', at: T12 },
  ],
};

const rendered = (message: unknown) => `${JSON.stringify(message, null, 2)}\n`;

describe('golden Block Kit messages', () => {
  for (const [family, cases] of Object.entries(FAMILIES)) {
    describe(family, () => {
      for (const [name, render] of Object.entries(cases)) {
        it(`renders ${name} as golden/${family}/${name}.json`, () => {
          const file = join(GOLDEN, family, `${name}.json`);
          const actual = rendered(render());
          if (UPDATE) {
            mkdirSync(join(GOLDEN, family), { recursive: true });
            writeFileSync(file, actual);
            return;
          }
          if (!existsSync(file))
            expect.fail(
              `missing golden file ${file}: run UPDATE_GOLDEN=1 npx vitest run test/unit/adapters/slack/golden.test.ts and review it`,
            );
          expect(actual).toBe(readFileSync(file, 'utf8'));
        });
      }
    });
  }

  it('keeps no golden file that no case renders', () => {
    const known = new Set(
      Object.entries(FAMILIES).flatMap(([family, cases]) =>
        Object.keys(cases).map((name) => join(family, `${name}.json`)),
      ),
    );
    const stale = existsSync(GOLDEN)
      ? readdirSync(GOLDEN, { recursive: true, encoding: 'utf8' })
          .filter((f) => f.endsWith('.json'))
          .filter((f) => !known.has(f))
      : [];
    if (UPDATE) for (const f of stale) rmSync(join(GOLDEN, f));
    else
      expect(stale, 'golden files no case renders: delete them, or run UPDATE_GOLDEN=1').toEqual(
        [],
      );
  });
});
