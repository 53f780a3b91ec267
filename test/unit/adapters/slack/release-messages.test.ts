import { describe, expect, it } from 'vitest';
import { rollbackAlert } from '../../../../src/adapters/slack/blocks/alerts.ts';
import {
  liveStatus,
  releaseParentMessage,
} from '../../../../src/adapters/slack/blocks/release-card.ts';
import {
  completionReport,
  progressMessage,
  timelineReply,
} from '../../../../src/adapters/slack/blocks/thread-replies.ts';
import { requestBump } from '../../../../src/app/use-cases/deploy-to-standby.ts';
import { refuseFaulty } from '../../../../src/app/use-cases/release-history.ts';
import { parseConfig } from '../../../../src/config/load-config.ts';
import type { Release, ReleaseState } from '../../../../src/domain/release.ts';
import { transition } from '../../../../src/domain/release-machine.ts';
import type { ServiceState } from '../../../../src/domain/service-state.ts';
import { apiConfig } from '../../../../testkit/api-config.ts';
import { memoryWorld } from '../../../../testkit/memory-deps.ts';

// Messages as people read them (issue 12). Expected texts are written out here, by hand.

const NOW = new Date('2026-11-24T10:00:00.000Z');
const AT = NOW.toISOString();
const YAML = apiConfig({
  roles: '{ lead: [U0LEAD], security: [S0SECURITY], team: [U0DEV2], cto: [U0CTO] }',
  api: '    stabilityWindowMinutes: 3',
});
const CONFIG = parseConfig(YAML);
const SERVICE = CONFIG.services.api;
if (SERVICE === undefined) throw new Error('no api');

function release(state: ReleaseState, extra: Partial<Release> = {}): Release {
  return {
    id: 'rel-1',
    service: 'api',
    version: '2.4.1',
    fromVersion: '2.4.0',
    type: 'hotfix',
    strategy: 'bluegreen',
    requester: 'U0DEV1',
    requiredRoles: ['lead', 'security'],
    approvals: [],
    state,
    stateSince: AT,
    fromSlot: 'blue',
    toSlot: 'green',
    timeline: [],
    createdAt: AT,
    updatedAt: AT,
    revision: 3,
    ...extra,
  };
}

function service(production: 'blue' | 'green'): ServiceState {
  return {
    service: 'api',
    production,
    slots: {
      blue: { version: '2.4.0', health: 'healthy', updatedAt: AT },
      green: { version: '2.4.1', health: 'healthy', updatedAt: AT },
    },
    operation: null,
    lastReleaseId: 'rel-1',
    revision: 4,
  };
}

const all = (m: { text: string; blocks: unknown[] }) => `${m.text}\n${JSON.stringify(m.blocks)}`;

describe('release messages', () => {
  it('writes automatic actors as words, never as a raw <@greenlight> token', async () => {
    const card = releaseParentMessage(
      release('rolled_back', {
        rollback: { by: 'greenlight', reason: 'error rate 3.2% > 0.5%', at: AT, path: 'switch' },
      }),
      service('blue'),
      SERVICE,
    );
    expect(all(card)).not.toContain('<@greenlight>');
    expect(all(card)).toContain('automatically: error rate 3.2% › 0.5%');

    const w = memoryWorld(YAML, NOW);
    await w.deps.faulty.mark('api', {
      version: '2.4.1',
      by: 'greenlight',
      reason: 'error rate 3.2% > 0.5%',
      at: AT,
      releaseId: 'rel-1',
    });
    const refusal = await refuseFaulty(w.deps, 'api', '2.4.1', 'it cannot be released again').catch(
      (e: Error) => e.message,
    );
    expect(refusal).toContain('marked faulty: an automatic rollback rolled it back');
    expect(refusal).not.toContain('<@greenlight>');
  });

  it('mentions the members of each missing role on the approval card, user groups as group mentions', () => {
    const card = releaseParentMessage(
      release('awaiting_approval'),
      service('blue'),
      SERVICE,
      CONFIG.roles,
    );
    expect(all(card)).toContain(':hourglass: lead: missing · <@U0LEAD>');
    expect(all(card)).toContain(':hourglass: security: missing · <!subteam^S0SECURITY>');
  });

  it('never names the requester, nor who approved for another role, as the one to approve', () => {
    const roles = { lead: ['U0LEAD', 'U0DEV1'], team: ['U0LEAD', 'U0DEV1', 'U0DEV2'] };
    const card = releaseParentMessage(
      release('awaiting_approval', {
        requester: 'U0DEV1',
        requiredRoles: ['lead', 'team'],
        approvals: [{ role: 'lead', user: 'U0LEAD', at: AT }],
      }),
      service('blue'),
      SERVICE,
      roles,
    );
    expect(all(card)).toContain(':hourglass: team: missing · <@U0DEV2>');
    expect(all(card)).not.toContain('missing · <@U0LEAD>');
  });

  it('a canary whose shadow hold ended by time waits for Promote without claiming the hold passed', () => {
    const canary = (holdPassed: boolean) =>
      liveStatus(
        release('ramping', {
          strategy: 'canary',
          canary: {
            steps: [20, 50],
            stepIndex: 0,
            stepStartedAt: AT,
            awaitingPromotion: true,
            promptedAt: AT,
            holdPassed,
          },
        }),
        AT,
      );
    expect(canary(false)).toContain('hold time ended (shadow analysis), waiting for Promote');
    expect(canary(false)).not.toContain('hold passed');
    expect(canary(true)).toContain('hold passed, waiting for Promote');
  });

  it('shows the roles a rejected release required, not "none needed"', () => {
    const card = releaseParentMessage(
      release('rejected', { decidedBy: 'U0LEAD', rejectReason: 'not today' }),
      service('blue'),
      SERVICE,
    );
    expect(all(card)).not.toContain('none needed');
    expect(all(card)).toContain('lead: not given');
  });

  it('asks for a reject reason once: the Reject button has no confirm dialog of its own', () => {
    const card = releaseParentMessage(release('awaiting_approval'), service('blue'), SERVICE);
    const buttons = (card.blocks as { elements?: Record<string, unknown>[] }[]).flatMap(
      (b) => b.elements ?? [],
    );
    const reject = buttons.find((e) => e.action_id === 'release_reject');
    const approve = buttons.find((e) => e.action_id === 'release_approve');
    expect(reject).toBeDefined();
    expect(reject?.confirm).toBeUndefined();
    expect(approve?.confirm).toBeDefined();
  });

  it('writes Greenlight steps as sentences, and mentions the requester when the release switches', () => {
    const approved = transition(
      release('awaiting_approval', { requiredRoles: ['lead'] }),
      { type: 'approve', user: 'U0LEAD', roles: ['lead'] },
      NOW,
    ).release;
    expect(timelineReply(approved)?.text).toBe('@U0LEAD approved as lead. cc @U0DEV1');
    const switched = transition(approved, { type: 'switched' }, NOW).release;
    expect(timelineReply(switched)?.text).toBe('Traffic switched blue → green. cc @U0DEV1');
  });

  it('mentions the requester when the release is rejected or rolled back', () => {
    const rejected = transition(
      release('awaiting_approval'),
      { type: 'reject', user: 'U0LEAD', reason: 'not today' },
      NOW,
    ).release;
    expect(timelineReply(rejected)?.text).toContain('cc @U0DEV1');
    const back = transition(
      release('released', { releasedAt: AT }),
      { type: 'rollback', user: 'greenlight', reason: 'errors' },
      NOW,
    ).release;
    expect(timelineReply(back)?.text).toContain('cc @U0DEV1');
  });

  it('ends the stability window with "released", the requester, and that /sync is possible now', () => {
    const observing = release('observing', { releasedAt: AT, observeUntil: AT });
    const done = transition(observing, { type: 'observed' }, NOW).release;
    expect(timelineReply(done)?.text).toBe(
      'Released: the stability window passed, so /sync api is possible now. cc @U0DEV1',
    );
  });

  it('says when /sync becomes possible while the stability window runs', () => {
    const report = completionReport(
      release('observing', { releasedAt: AT, observeUntil: '2026-11-24T10:03:00.000Z' }),
      service('green'),
      SERVICE,
    );
    expect(all(report)).toContain('once the stability window ends at 10:03 UTC');
  });

  it('labels a blue/green progress update New and Previous, and its minutes add up', () => {
    const message = progressMessage(
      release('observing', {
        releasedAt: '2026-11-24T09:59:00.000Z',
        observeUntil: '2026-11-24T10:02:00.000Z',
      }),
      SERVICE,
      NOW,
      [],
    );
    const text = all(message);
    expect(text).toContain('*New (green):*');
    expect(text).toContain('*Previous (blue):*');
    expect(text).not.toContain('Canary (green)');
    expect(text).toContain('Observing 1/3 min');
    expect(text).toContain('2 min left');
  });

  it('lists each load balancer of a fleet with its weights in a progress update, and none for one proxy', () => {
    const observing = release('observing', {
      releasedAt: '2026-11-24T09:59:00.000Z',
      observeUntil: '2026-11-24T10:02:00.000Z',
    });
    const fleet = progressMessage(
      observing,
      SERVICE,
      NOW,
      [],
      [
        '· lb-1 (eu): green only; up: blue, green',
        '· lb-2 (eu): green only; up: blue, green',
        '· lb-3 (us): unreachable (HAProxy Runtime API at 10.0.0.3:9999 is unreachable (ECONNREFUSED))',
      ],
    );
    const section = JSON.stringify(fleet.blocks);
    expect(section).toContain('*Load balancers:*');
    for (const lb of ['lb-1 (eu): green only', 'lb-2 (eu): green only', 'lb-3 (us): unreachable'])
      expect(all(fleet)).toContain(lb);
    expect(all(progressMessage(observing, SERVICE, NOW, []))).not.toContain('Load balancers');
  });

  it('marks a finished rollback alert as production restored, not as a success, and pages the people behind the release', () => {
    const alert = rollbackAlert(
      release('rolled_back', {
        approvals: [{ role: 'lead', user: 'U0LEAD', at: AT }],
        rollback: { by: 'greenlight', reason: 'error rate 3.2% > 0.5%', at: AT, path: 'switch' },
      }),
      SERVICE,
      'done',
    );
    const text = all(alert);
    expect(text).not.toContain(':white_check_mark:');
    expect(text).toContain('[ROLLBACK] Production restored after a rollback');
    expect(text).toContain('*Who:* automatic rollback (Greenlight)');
    expect(text).toContain('*Release by:* <@U0DEV1> · *approved by:* <@U0LEAD>');
  });

  it('steps a bump past versions that were rolled back, and names a version that works', async () => {
    const w = memoryWorld(YAML, NOW);
    w.services.set('api', {
      ...service('blue'),
      slots: {
        ...service('blue').slots,
        green: { version: '2.4.0', health: 'healthy', updatedAt: AT },
      },
    });
    for (const version of ['2.4.1', '2.4.2'])
      await w.deps.faulty.mark('api', {
        version,
        by: 'U0LEAD',
        reason: 'broken',
        at: AT,
        releaseId: 'r',
      });
    const answer = await requestBump(w.deps, {
      service: 'api',
      target: { level: 'patch' },
      by: 'U0DEV1',
    });
    expect(answer.message).toContain('Deploying api 2.4.3 (patch)');

    const w2 = memoryWorld(YAML, NOW);
    w2.services.set('api', service('blue'));
    await w2.deps.faulty.mark('api', {
      version: '2.4.5',
      by: 'U0LEAD',
      reason: 'broken',
      at: AT,
      releaseId: 'r',
    });
    const refused = await requestBump(w2.deps, {
      service: 'api',
      target: { version: '2.4.5' },
      by: 'U0DEV1',
    }).catch((e: Error) => e.message);
    expect(refused).toContain('/bump api 2.4.6 would work');
  });
});
