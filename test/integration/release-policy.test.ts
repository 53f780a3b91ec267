import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import {
  eventually,
  pendingReleaseId,
  type ReleaseWorld,
  startReleaseWorld,
  trafficSplit,
} from '../../testkit/release-world.ts';
import { IN_TURN } from '../support/step-queue.ts';

const AUDIT_TOKEN = 'audit-token-0123456789abcdef';

async function waitForChannelText(world: ReleaseWorld, text: string, channel = 'C0RELEASES') {
  return eventually(
    () =>
      world.slack
        .messages(channel)
        .find((m) => `${m.text} ${JSON.stringify(m.blocks)}`.includes(text)),
    (m) => m !== undefined,
  );
}

// The two worlds below share nothing (each has its own slots, HAProxy, Redis key prefix and
// Greenlight): their describe blocks run side by side, and the tests within each in turn.
const SIDE_BY_SIDE = { concurrent: true } as const;

describe(
  'release policy: gates, operators, windows, expiry, known-bad versions, audit, dry runs',
  SIDE_BY_SIDE,
  () => {
    let world: ReleaseWorld;
    const gateFile = join(tmpdir(), `greenlight-gate-${process.pid}-${Date.now()}`);
    let snapshot: () => Promise<string>;

    beforeAll(async () => {
      const gateCommand = JSON.stringify([
        process.execPath,
        '-e',
        'process.exit(require("fs").existsSync(process.argv[1]) ? 0 : 1)',
        gateFile,
      ]);
      world = await startReleaseWorld({
        env: { GREENLIGHT_AUDIT_TOKEN: AUDIT_TOKEN },
        serviceExtra: `    releaseTypes:
      patch: { approvals: [lead], rollbackWindowMinutes: 0.01 }
      minor: { approvals: [lead, security], rollbackWindowMinutes: 60 }
    approvalTtlMinutes: 0.05
    # Approvals lapse after 3 s; the pending release itself may wait longer here.
    deadlines: { approvalMinutes: 10 }
    gates:
      - { name: migrations applied, type: command, command: ${gateCommand}, timeoutSeconds: 5 }
      - { name: deploy credentials, type: env, variables: [GREENLIGHT_TEST_DEPLOY_TOKEN], blocking: false }
    operators:
      bump: [U0DEV1, U0DEV2, U0LEAD]
      release: [U0DEV1, U0DEV2, U0LEAD, S0SECURITY]
      sync: [U0DEV1]
      rollback: [U0DEV1, U0LEAD, S0SECURITY]
`,
      });
      snapshot = async () => {
        const keys = (await world.redis.keys())
          .filter((k) => /:(service|release|faulty):/.test(k))
          .sort();
        const values = await Promise.all(keys.map((k) => world.redis.redis.hgetall(k)));
        return JSON.stringify([keys, values, await world.haproxy.serverStates('api')]);
      };
    });

    afterAll(async () => world?.close());

    it(
      'refuses commands from people who are not operators of the service',
      IN_TURN,
      async ({ expect }) => {
        const before = await snapshot();
        const answer = await world.command('U0CTO', '/bump', 'api');
        expect(answer).toContain('You are not allowed to run /bump on api');
        expect(answer).toContain('<@U0DEV1>');
        expect(await world.command('U0DEV2', '/sync', 'api')).toContain('not allowed to run /sync');
        expect(await snapshot()).toBe(before);
      },
    );

    it('plans /bump --dry-run privately and changes nothing', IN_TURN, async ({ expect }) => {
      const before = await snapshot();
      const plan = await world.command('U0DEV1', '/bump', 'api major --dry-run');
      expect(plan).toContain('Dry run of /bump api: nothing was changed');
      expect(plan).toContain('2.4.0 → 3.0.0 (major) on STANDBY (green)');
      expect(plan).toContain('GREENLIGHT_VERSION=3.0.0 GREENLIGHT_SLOT=green');
      expect(await snapshot()).toBe(before);
      expect(world.services.api?.green.state.version).toBe('0.0.0');
    });

    it(
      'refuses /release while a blocking gate fails, listing every gate, and changes nothing',
      IN_TURN,
      async ({ expect }) => {
        await world.command('U0DEV1', '/bump', 'api');
        await waitForChannelText(world, 'api 2.4.1 is on STANDBY (green), healthy');
        const before = await snapshot();
        const answer = await world.command('U0DEV1', '/release', 'api');
        expect(answer).toContain('Pre-release gates failed for api 2.4.1');
        expect(answer).toContain('❌ migrations applied: gate command exited with code 1');
        expect(answer).toContain(
          '⚠️ deploy credentials (advisory): not set: GREENLIGHT_TEST_DEPLOY_TOKEN',
        );
        expect(await snapshot()).toBe(before);
      },
    );

    it(
      'plans /release --dry-run with approvers, HAProxy commands, gates and the rollback target',
      IN_TURN,
      async ({ expect }) => {
        const plan = await world.command('U0DEV1', '/release', 'api --dry-run');
        expect(plan).toContain('Approvals needed: lead (<@U0LEAD>)');
        expect(plan).toContain('set server api/green state ready');
        expect(plan).toContain('set server api/blue state drain');
        expect(plan).toContain(
          'Gates before the approval request: migrations applied (command, blocking)',
        );
        expect(plan).toContain('Rollback target: blue (2.4.0)');
        expect(plan).toContain('Would be refused: Pre-release gates failed');
      },
    );

    it(
      'lists gate results in the thread once they pass, advisory warnings included',
      IN_TURN,
      async ({ expect }) => {
        await writeFile(gateFile, 'ok');
        expect(await world.command('U0DEV1', '/release', 'api')).toContain('requested');
        const id = await pendingReleaseId(world, '2.4.1');
        const gates = await waitForChannelText(world, 'Pre-release gates:');
        expect(gates?.thread_ts).toBeDefined();
        expect(gates?.text).toContain('migrations applied: exited 0');
        expect(gates?.text).toContain('deploy credentials (advisory): not set');
        expect(await world.click('U0LEAD', 'release_approve', id)).toContain(
          'switching api to green',
        );
        await eventually(
          () => trafficSplit(world.haproxy.frontendUrl('api')),
          (split) => split.green === 10,
        );
      },
    );

    it(
      'outside the rollback window, a rollback needs a reason and one approval from lead',
      IN_TURN,
      async ({ expect }) => {
        await waitForChannelText(world, 'New PRODUCTION: green');
        // The patch window here is 0.6 s, and it began before the switch was announced.
        await new Promise((r) => setTimeout(r, 1000));
        expect(await world.command('U0DEV1', '/rollback', 'api')).toContain(
          'past its rollback window',
        );
        const asked = await world.command('U0DEV1', '/rollback', 'api checkout is slow');
        expect(asked).toContain('waits for an approval from lead');
        expect(await trafficSplit(world.haproxy.frontendUrl('api'))).toEqual({ green: 10 });
        const id = await eventually(
          () => {
            const parent = world.slack
              .messages('C0RELEASES')
              .find((m) => JSON.stringify(m.blocks).includes('release_rollback_approve'));
            return JSON.stringify(parent?.blocks ?? []).match(/"value":"(rel-[^":]+)/)?.[1] ?? '';
          },
          (v) => v !== '',
        );
        expect(await world.click('U0DEV1', 'release_rollback_approve', id)).toContain(
          'someone else must approve',
        );
        // Buttons are authorised like their command: U0DEV2 may not run /rollback on api at all.
        expect(await world.click('U0DEV2', 'release_rollback_approve', id)).toContain(
          'not allowed to run /rollback',
        );
        expect(await world.click('U0SEC1', 'release_rollback_approve', id)).toContain(
          'Only lead can approve',
        );
        expect(await world.click('U0LEAD', 'release_rollback_approve', id)).toContain(
          'Rollback approved',
        );
        await eventually(
          () => trafficSplit(world.haproxy.frontendUrl('api')),
          (split) => split.blue === 10,
        );
        const alert = await waitForChannelText(
          world,
          'Production restored after a rollback',
          'C0ALERTS',
        );
        expect(JSON.stringify(alert?.blocks)).toContain('*Who:* <@U0DEV1> (approved by <@U0LEAD>)');
      },
    );

    it(
      'marks a rolled-back version faulty: /release refuses it naming who and why until it is unmarked',
      IN_TURN,
      async ({ expect }) => {
        const refused = await world.command('U0DEV1', '/release', 'api');
        expect(refused).toContain('api 2.4.1 is marked faulty: <@U0DEV1> rolled it back');
        expect(refused).toContain('checkout is slow');
        expect(refused).toContain('/release unmark api 2.4.1');
        expect(await world.command('U0DEV1', '/bump', 'api 2.4.1')).toContain('marked faulty');
        expect(await world.command('U0DEV1', '/release', 'unmark api 2.4.1')).toContain(
          'no longer marked faulty',
        );
        expect(await world.command('U0DEV1', '/release', 'unmark api 2.4.1')).toContain(
          'is not marked faulty',
        );
      },
    );

    it(
      'expires approvals past their TTL and voids them when STANDBY changes',
      IN_TURN,
      async ({ expect }) => {
        expect(await world.command('U0DEV1', '/bump', 'api minor')).toContain(
          'Deploying api 2.5.0 (minor) to STANDBY (green)',
        );
        await waitForChannelText(world, 'api 2.5.0 is on STANDBY (green), healthy');
        expect(await world.command('U0DEV1', '/release', 'api')).toContain('(minor) requested');
        const id = await pendingReleaseId(world, '2.5.0');
        expect(await world.click('U0LEAD', 'release_approve', id)).toContain(
          'Still needed: security',
        );
        await new Promise((r) => setTimeout(r, 3500)); // TTL here is 3 s
        // U0SEC1 is in the S0SECURITY user group, resolved through usergroups.users.list.
        const second = await world.click('U0SEC1', 'release_approve', id);
        expect(second).toContain('You approved as security');
        expect(second).toContain('Still needed: lead');
        await waitForChannelText(world, 'Approval expired: lead by <@U0LEAD>');

        world.services.api?.green.set({ healthy: false });
        const refused = await world.click('U0LEAD', 'release_approve', id);
        expect(refused).toContain('STANDBY (green) is unhealthy');
        expect(refused).toContain('earlier approvals were voided');
        expect(await trafficSplit(world.haproxy.frontendUrl('api'))).toEqual({ blue: 10 });
        world.services.api?.green.set({ healthy: true });

        expect(await world.click('U0LEAD', 'release_approve', id)).toContain(
          'Still needed: security',
        );
        expect(await world.click('U0SEC1', 'release_approve', id)).toContain(
          'switching api to green',
        );
        await eventually(
          () => trafficSplit(world.haproxy.frontendUrl('api')),
          (split) => split.green === 10,
        );
      },
    );

    it(
      'lists recent releases with outcome, duration and approvers on /release history',
      IN_TURN,
      async ({ expect }) => {
        await waitForChannelText(world, '2.5.0 released');
        const history = await world.command('U0DEV2', '/release', 'history api 5');
        expect(history).toContain('Last 2 releases of api');
        expect(history).toMatch(
          /2\.4\.0 → 2\.5\.0 \(minor\) · \*released\* · \d+ min · by <@U0DEV1> · approved by <@U0LEAD> \(lead\), <@U0SEC1> \(security\)/,
        );
        expect(history).toContain('2.4.0 → 2.4.1 (patch) · *rolled back*');
      },
    );

    it(
      'exports the audit trail as JSON lines for the bearer token only',
      IN_TURN,
      async ({ expect }) => {
        expect((await fetch(`${world.app.url}/audit`)).status).toBe(401);
        expect(
          (
            await fetch(`${world.app.url}/audit`, {
              headers: { authorization: 'Bearer wrong-token-0123456789' },
            })
          ).status,
        ).toBe(401);
        const res = await fetch(`${world.app.url}/audit?limit=10000`, {
          headers: { authorization: `Bearer ${AUDIT_TOKEN}` },
        });
        expect(res.headers.get('content-type')).toContain('application/x-ndjson');
        const lines = (await res.text())
          .trim()
          .split('\n')
          .map(
            (l) =>
              JSON.parse(l) as {
                id: string;
                who: string;
                what: string;
                service?: string;
                before?: unknown;
                after?: unknown;
              },
          );
        const whats = lines.map((l) => l.what);
        expect(whats).toContain('/bump api');
        expect(whats).toContain('/bump api minor');
        expect(lines.find((l) => l.what === '/bump api' && l.who === 'U0CTO')?.after).toMatchObject(
          {
            outcome: 'refused: not_allowed',
          },
        );
        expect(whats).toContain('clicked approve');
        expect(whats).toContain('release approve: awaiting_approval → switching');
        const moved = lines.find((l) => l.what === 'traffic set' && 'releaseId' in l);
        expect(moved?.before).toMatchObject({ weights: { blue: 100, green: 0 } });
        expect(moved?.after).toMatchObject({ weights: { blue: 0, green: 100 } });
        expect(whats).toContain('unmarked faulty version 2.4.1');
        expect(whats.some((w) => w.startsWith('bump 2.4.1 to green: healthy'))).toBe(true);
        const switched = lines.find((l) => l.what === 'release switched: switching → released');
        expect(switched?.before).toMatchObject({ production: 'blue' });
        expect(switched?.after).toMatchObject({ production: 'green' });
        // Paging: everything after a line's id.
        const middle = lines[Math.floor(lines.length / 2)]?.id ?? '';
        const rest = await fetch(`${world.app.url}/audit?after=${middle}`, {
          headers: { authorization: `Bearer ${AUDIT_TOKEN}` },
        });
        expect((await rest.text()).trim().split('\n').length).toBe(
          lines.length - Math.floor(lines.length / 2) - 1,
        );
      },
    );
  },
);

describe('freezes: only a justified hotfix passes, with an extra approval', SIDE_BY_SIDE, () => {
  let world: ReleaseWorld;

  beforeAll(async () => {
    world = await startReleaseWorld({
      topLevelExtra: `freeze:
  - { from: "2020-01-01T00:00:00Z", to: "2099-01-01T00:00:00Z", reason: "Code freeze" }
freezeException: cto`,
    });
  });
  afterAll(async () => world?.close());

  it(
    'refuses a normal /bump with the freeze, its end and the way out',
    IN_TURN,
    async ({ expect }) => {
      const answer = await world.command('U0DEV1', '/bump', 'api minor');
      expect(answer).toContain('api is frozen until Thu 1 Jan 01:00 CET (Code freeze)');
      expect(answer).toContain('A hotfix can pass with an approval from cto: /bump api hotfix');
    },
  );

  it(
    'lets a hotfix through with a justification and approvals from lead, security and cto',
    IN_TURN,
    async ({ expect }) => {
      expect(await world.command('U0DEV1', '/bump', 'api hotfix')).toContain(
        'Deploying api 2.4.1 (hotfix)',
      );
      await waitForChannelText(world, 'api 2.4.1 is on STANDBY (green), healthy');
      expect(await world.command('U0DEV1', '/release', 'api')).toContain(
        'needs a written justification',
      );
      const requested = await world.command(
        'U0DEV1',
        '/release',
        'api --justify payments fail for all EU cards',
      );
      expect(requested).toContain('It needs approval from lead and security and cto');
      const id = await pendingReleaseId(world, '2.4.1');
      await waitForChannelText(
        world,
        'Hotfix while frozen until Thu 1 Jan 01:00 CET (Code freeze): payments fail for all EU cards',
      );
      expect(await world.click('U0LEAD', 'release_approve', id)).toContain(
        'Still needed: security and cto',
      );
      expect(await world.click('U0SEC1', 'release_approve', id)).toContain('Still needed: cto');
      expect(await trafficSplit(world.haproxy.frontendUrl('api'))).toEqual({ blue: 10 });
      expect(await world.click('U0CTO', 'release_approve', id)).toContain('switching api to green');
      await eventually(
        () => trafficSplit(world.haproxy.frontendUrl('api')),
        (split) => split.green === 10,
      );
    },
  );
});
