import { createHmac } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AlertmanagerFixture, startAlertmanager } from '../../testkit/alertmanager-fixture.ts';
import { checkboxesOf, toggleChecklistItem } from '../../testkit/checklist-clicks.ts';
import type { HaproxyFixture } from '../../testkit/haproxy-fixture.ts';
import {
  bumpAndRequestRelease,
  buttonValue,
  eventually,
  loadLoop,
  type ReleaseWorld,
  startReleaseWorld,
} from '../../testkit/release-world.ts';
import type { EmulatedMessage } from '../../testkit/slack-emulator.ts';
import { startUnleash, type UnleashFixture } from '../../testkit/unleash.ts';
import { restoredAlert } from '../support/world-inspection.ts';

// Every feature of this release at once, on one canary service: rings (an internal header
// audience, then shares of everyone) behind a fleet of two real HAProxy instances with audience
// maps, a required pre item and an owned post item, an irreversible migration, an Unleash flag,
// stakeholder comms, an Alertmanager silence and a webhook receiver. Each oracle is the part
// itself: the HAProxy frontends and Runtime APIs, Unleash's Admin API, Alertmanager's silences,
// the receiver's deliveries, the marker file the migration writes, and the Slack emulator.

const FLAG = 'new-checkout';
const ENV = 'production';
const RUNBOOK = 'https://runbooks.example.com/api-migrate-down';
const AUDIT_TOKEN = 'everything-audit-token-0123456789';
const HOOK_SECRET = 'everything-hook-secret';
const LEASE_S = 20;
const TAIL_S = 2;
const INTERNAL = { 'X-Greenlight-Ring': 'internal' };
const CUSTOMER = { 'X-Greenlight-Ring': 'customer' };
const STEP_SCRIPT = `import { appendFileSync } from 'node:fs';
appendFileSync(process.argv[2], [process.env.GREENLIGHT_STEP, process.env.GREENLIGHT_RELEASE_ID].join(' ') + '\\n');
`;

const textOf = (m: EmulatedMessage | undefined) =>
  m === undefined ? '' : `${m.text}\n${JSON.stringify(m.blocks ?? [])}`;

async function answers(
  url: string,
  headers: Record<string, string> = {},
  count = 10,
): Promise<Record<string, number>> {
  const seen: Record<string, number> = {};
  for (let i = 0; i < count; i += 1) {
    const res = await fetch(url, { headers });
    const key =
      res.status === 200 ? ((await res.json()) as { slot: string }).slot : `http ${res.status}`;
    if (res.status !== 200) await res.arrayBuffer();
    seen[key] = (seen[key] ?? 0) + 1;
  }
  return seen;
}

/** The header audience map's entries, as this HAProxy instance holds them now. */
async function headerAudience(lb: HaproxyFixture): Promise<string[]> {
  const maps = await lb.command('show map');
  const mapId = maps.match(/^(-?\d+) \([^)]*api-header\.map\)/m)?.[1];
  if (mapId === undefined) throw new Error(`no header map on this instance: ${maps}`);
  return (await lb.command(`show map #${mapId}`))
    .split('\n')
    .map((line) => line.trim().split(/\s+/).slice(1).join(' '))
    .filter(Boolean);
}

/** Weights as HAProxy applies them: a drained server (admin state bit 8) takes no share. */
async function shares(lb: HaproxyFixture): Promise<{ blue: number; green: number }> {
  const states = await lb.serverStates('api');
  const share = (s: { admin: number; weight: number } | undefined) =>
    s === undefined || (s.admin & 8) !== 0 ? 0 : s.weight;
  return { blue: share(states.blue), green: share(states.green) };
}

interface Delivery {
  event: string;
  key: string;
  signed: boolean;
  at: number;
}

describe('everything at once: rings on a fleet, checklists, a migration, a flag and comms, rolled back', () => {
  let world: ReleaseWorld;
  let unleash: UnleashFixture;
  let am: AlertmanagerFixture;
  let receiver: Server;
  let load: ReturnType<typeof loadLoop>[] = [];
  let marker = '';
  let id = '';
  let parentTs = '';
  const deliveries: Delivery[] = [];

  const lbs = () => world.fleet as [HaproxyFixture, HaproxyFixture];
  const parent = () => world.slack.messages('C0RELEASES').find((m) => m.ts === parentTs);
  const thread = () => world.slack.messages('C0RELEASES').filter((m) => m.thread_ts === parentTs);
  const threadText = () => thread().map(textOf).join('\n');
  const stake = () => world.slack.messages('C0STAKE');
  const runs = async () =>
    (await readFile(marker, 'utf8').catch(() => '')).split('\n').filter(Boolean);
  const releaseState = async () => {
    const json = await world.redis.redis.hget(`{${world.redis.keyPrefix}}:release:${id}`, 'json');
    return json === null ? undefined : (JSON.parse(json) as { state: string; updatedAt: string });
  };
  const silences = async () =>
    (await am.silences()).filter((s) => s.createdBy === 'greenlight' && s.comment.includes(id));
  const audit = async () => {
    const res = await fetch(`${world.app.url}/audit?limit=10000`, {
      headers: { authorization: `Bearer ${AUDIT_TOKEN}` },
    });
    return (await res.text())
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { who: string; what: string });
  };

  beforeAll(async () => {
    const base = join(tmpdir(), `greenlight-all-${process.pid}-${Date.now()}`);
    marker = `${base}.runs`;
    await writeFile(`${base}.mjs`, STEP_SCRIPT);
    unleash = await startUnleash();
    await unleash.createFlag(FLAG);
    am = await startAlertmanager();
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString();
      });
      req.on('end', () => {
        const ts = String(req.headers['x-greenlight-timestamp']);
        const signature = `v1=${createHmac('sha256', HOOK_SECRET).update(`v1:${ts}:${body}`).digest('hex')}`;
        deliveries.push({
          event: (JSON.parse(body) as { event: string }).event,
          key: String(req.headers['idempotency-key']),
          signed: req.headers['x-greenlight-signature'] === signature,
          at: Date.now(),
        });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const address = receiver.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    world = await startReleaseWorld({
      strategy: 'canary',
      audienceMaps: true,
      haproxyFleet: { regions: ['eu', 'us'] },
      stabilityWindowMinutes: 10,
      checklists:
        '{ pre: [{ text: "Release notes reviewed", required: true }], post: [{ text: "Smoke test passed", owner: U0QA }] }',
      serviceExtra: `    analysis: { source: haproxy, minRequests: 0, intervalSeconds: 0.5 }
    operators: { flag: [U0DEV1, U0DEV2, U0LEAD] }
    flags:
      - { name: ${FLAG}, environment: ${ENV}, killSwitch: true, role: team }
    rings:
      internal: { match: { header: X-Greenlight-Ring, values: [internal] }, soakMinutes: 60 }
      early: { percent: 50, soakMinutes: 60 }
      all: { percent: 100, soakMinutes: 0 }
    steps:
      migrate:
        command: ${JSON.stringify([process.execPath, `${base}.mjs`, marker])}
        reversible: false
        compensation: "${RUNBOOK}"
        approverRole: team
        owner: U0DBA
        label: "Run migration (cannot be undone)"
        timeoutSeconds: 60
`,
      topLevelExtra: `flagProviders:
  unleash: { url: "${unleash.url}", tokenEnv: UNLEASH_ADMIN_TOKEN, timeoutMs: 2000 }
comms:
  channels: [C0STAKE]
  incidentReport: { remindAfterHours: 0.001, dueHours: 1 }
  alertmanager:
    url: "${am.url}"
    matchers: [{ name: team, value: payments, isRegex: false, isEqual: true }]
    leaseSeconds: ${LEASE_S}
    tailSeconds: ${TAIL_S}
    timeoutMs: 1000
  webhooks:
    - { url: "http://127.0.0.1:${port}/hook", secretEnv: COMMS_HOOK_SECRET, events: [started, released, rolled_back, failed] }
`,
      env: {
        GREENLIGHT_RECONCILE_INTERVAL_SECONDS: '1',
        GREENLIGHT_AUDIT_TOKEN: AUDIT_TOKEN,
        COMMS_HOOK_SECRET: HOOK_SECRET,
        UNLEASH_ADMIN_TOKEN: unleash.token,
      },
    });
  }, 240_000);

  afterAll(async () => {
    for (const l of load) await l.stop();
    await world?.close();
    await unleash?.stop();
    await am?.close();
    await new Promise((resolve) => receiver?.close(resolve));
  });

  it('the card gates Approve on the required pre item, then the migration waits for its own approver', async () => {
    ({ id, parentTs } = await bumpAndRequestRelease(world, '2.4.1'));
    const refused = await world.click('U0LEAD', 'release_approve', id);
    expect(refused).toContain('“Release notes reviewed”');
    expect(refused).toContain('Tick them on the release message');
    const card = await eventually(parent, (m) => checkboxesOf(m).length > 0);
    expect(await toggleChecklistItem(world, 'U0DEV1', card, 'Release notes reviewed')).toContain(
      'You ticked “Release notes reviewed”',
    );
    await eventually(parent, (m) => textOf(m).includes('“Release notes reviewed” by <@U0DEV1>'));
    const approved = await world.click('U0LEAD', 'release_approve', id);
    expect(approved).toContain('migrate cannot be undone');
    await eventually(
      () => buttonValue(world.slack, id),
      (value) => /:running_steps\.s0\.r\d+$/.test(value),
    );
    // Nothing ran, nothing moved, nobody outside was told: traffic has not moved yet.
    expect(await runs()).toEqual([]);
    for (const lb of lbs())
      expect(await answers(lb.frontendUrl('api'), INTERNAL)).toEqual({ blue: 10 });
    expect(stake()).toEqual([]);
    expect(await silences()).toEqual([]);
    expect(deliveries).toEqual([]);
    // The requester is in team and still may not run it.
    expect(await world.click('U0DEV1', 'release_step_approve', id)).toContain(
      'someone else in team',
    );
    expect(await world.click('U0DEV2', 'release_step_approve', id)).toContain(
      'You approved migrate',
    );
  }, 120_000);

  it('ring internal: the header reaches 2.4.1 on BOTH instances, customers stay on 2.4.0; stakeholders, the silence and the hook hear of the start', async () => {
    for (const lb of lbs())
      await eventually(
        () => answers(lb.frontendUrl('api'), INTERNAL, 5),
        (seen) => seen.green === 5,
        30_000,
      );
    for (const lb of lbs()) {
      expect(await answers(lb.frontendUrl('api'), INTERNAL)).toEqual({ green: 10 });
      expect(await answers(lb.frontendUrl('api'), CUSTOMER)).toEqual({ blue: 10 });
      expect(await answers(lb.frontendUrl('api'))).toEqual({ blue: 10 });
    }
    for (const lb of lbs()) expect(await headerAudience(lb)).toEqual(['internal green']);
    expect(await runs()).toEqual([`migrate ${id}`]);
    const started = await eventually(
      () => stake().find((m) => m.text.includes('Release started')),
      (m) => m !== undefined,
    );
    // Stakeholders read who each ring reaches, not the audience ring's weight ("0 → 50 %").
    expect(textOf(started)).toContain(
      'as rings, one audience after another: internal (requests with X-Greenlight-Ring: internal) → early (50 % of everyone) → all (100 % of everyone)',
    );
    await eventually(silences, (list) => list.some((s) => s.status.state === 'active'));
    await eventually(
      () => deliveries.map((d) => d.event),
      (events) => events.includes('started'),
    );
    await eventually(parent, (m) => textOf(m).includes('Promote to ring early'));
  }, 90_000);

  it('/flag on for 10 % is recorded on the live release, then Promote to ring early gives 2.4.1 half of everyone on both instances, the audience kept', async () => {
    expect(await world.command('U0DEV1', '/flag', `api ${FLAG} 10`)).toContain(
      `${FLAG} (unleash, production) is on for 10 % now`,
    );
    expect(await unleash.flag(FLAG, ENV)).toEqual({ enabled: true, rollouts: [10] });
    await eventually(threadText, (text) => text.includes(FLAG));

    const drawnAtRingInternal = buttonValue(world.slack, id);
    await world.click('U0LEAD', 'release_promote', id);
    for (const lb of lbs())
      await eventually(
        () => shares(lb),
        (s) => s.green === 50 && s.blue === 50,
        30_000,
      );
    // The same Promote delivered again (a double click, a Slack retry) must not skip ring early.
    const responseUrl = world.slack.newResponseUrl();
    await world.sender.click({
      action_id: 'release_promote',
      value: drawnAtRingInternal,
      user_id: 'U0LEAD',
      message_ts: parentTs,
      response_url: responseUrl,
    });
    expect(JSON.stringify((await world.slack.waitForResponse(responseUrl)).body)).toContain(
      'this message showed an earlier step. Nothing was changed.',
    );
    // A restart mid-ring: the flag it turned on and the audience are known to the new process.
    await world.restart();
    for (const lb of lbs()) {
      expect(await shares(lb)).toEqual({ blue: 50, green: 50 });
      expect(await answers(lb.frontendUrl('api'), INTERNAL)).toEqual({ green: 10 });
      expect(await headerAudience(lb)).toEqual(['internal green']);
    }
    await eventually(parent, (m) => textOf(m).includes('Promote to ring all'));
    const status = await world.command('U0DEV2', '/release', 'status api');
    expect(status).toContain('lb-1 (eu): blue 50 %, green 50 %');
    expect(status).toContain('lb-2 (us): blue 50 %, green 50 %');
    expect(status).toContain('ring early: 50 % of everyone · now');
    expect(status).toContain('HAProxy audience: header internal → green');
    // The split is the ring's: nothing to correct.
    expect(status).not.toContain('drift');
    expect(await world.command('U0LEAD', '/rollback', 'api --dry-run')).toMatch(
      /Step 1 \(mitigate\): turn off new-checkout[\s\S]*Step 2 \(traffic\)[\s\S]*Audiences first: header internal → green comes off the audience maps, then the weights\.[\s\S]*On each of 2 HAProxy instances \(lb-1, lb-2/,
    );
    // A canary's post items appear once it carries all traffic: not yet.
    expect(thread().filter((m) => m.text.includes('After release ·'))).toEqual([]);
  }, 120_000);

  const samples: {
    instance: number;
    weightsBack: boolean;
    audienceOn: boolean;
    flagOn: boolean;
  }[] = [];

  it('a fault on 2.4.1 rolls back by itself: flags off first, then audiences, then weights, on both instances', async () => {
    let sampling = true;
    // Each instance is read before the flag: traffic back while the flag is still on is the
    // wrong order, whatever happened between the two reads.
    const sampler = (async () => {
      while (sampling) {
        for (const [instance, lb] of lbs().entries()) {
          const [states, audience] = await Promise.all([
            shares(lb).catch(() => undefined),
            headerAudience(lb).catch(() => undefined),
          ]);
          // A read that failed under load says nothing about the order: no sample.
          if (states === undefined || audience === undefined) continue;
          const flag = await unleash.flag(FLAG, ENV);
          samples.push({
            instance,
            weightsBack: states.blue === 100 && states.green === 0,
            audienceOn: audience.includes('internal green'),
            flagOn: flag.enabled,
          });
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    load = lbs().map((lb) => loadLoop(lb.frontendUrl('api'), 2));
    world.services.api?.green.set({ errorRate: 0.5 });
    await eventually(releaseState, (r) => r?.state === 'rolled_back', 60_000);
    for (const lb of lbs())
      await eventually(
        () => shares(lb),
        (s) => s.blue === 100 && s.green === 0,
        30_000,
      );
    // The sampler reads three systems per instance, slowly under load: let it see the end state
    // on every instance before it stops.
    await eventually(
      () => new Set(samples.filter((s) => s.weightsBack).map((s) => s.instance)).size,
      (n) => n === lbs().length,
      30_000,
    );
    sampling = false;
    await sampler;
    for (const l of load) await l.stop();
    load = [];
    world.services.api?.green.set({ errorRate: 0 });
    expect(samples.some((s) => s.weightsBack)).toBe(true);
    expect(samples.filter((s) => (s.weightsBack || !s.audienceOn) && s.flagOn)).toEqual([]);
    // Weights back while the audience still reaches 2.4.1 is the wrong traffic order.
    expect(samples.filter((s) => s.weightsBack && s.audienceOn)).toEqual([]);
    expect(await unleash.flag(FLAG, ENV)).toMatchObject({ enabled: false });
    for (const lb of lbs()) {
      expect(await answers(lb.frontendUrl('api'), INTERNAL)).toEqual({ blue: 10 });
      expect(await answers(lb.frontendUrl('api'))).toEqual({ blue: 10 });
    }
  }, 120_000);

  it('the rollback alert names the flag step, the traffic step and the migration’s runbook with its owner', async () => {
    const alert = await restoredAlert(world);
    const text = textOf(alert);
    expect(text).toContain('automatic rollback');
    expect(text).toContain(`*Step 1, flags:* ${FLAG} off`);
    expect(text).toContain('*Step 2, traffic:* Complete');
    expect(text).toContain('*Data:* NOT rolled back: migrate cannot be undone');
    expect(text).toContain(`<${RUNBOOK}|migrate compensation runbook>`);
    expect(text).toContain('owner <@U0DBA>');
    expect(await runs()).toEqual([`migrate ${id}`]);
  }, 60_000);

  it('the silence is cut to its tail; stakeholders told once each (start, rolled back) and reminded; the hook got started then rolled_back, once each', async () => {
    const ended = Date.parse((await releaseState())?.updatedAt ?? '');
    const [expired] = await eventually(
      silences,
      (list) => list.length > 0 && list.every((s) => s.status.state === 'expired'),
      (TAIL_S + 30) * 1000,
    );
    expect((await silences()).length).toBe(1);
    expect(Date.parse(expired?.endsAt ?? '')).toBeLessThanOrEqual(ended + (TAIL_S + 10) * 1000);

    await eventually(stake, (list) => list.some((m) => m.text.startsWith('Rolled back')));
    const reminder = await eventually(
      () => stake().find((m) => m.text.includes('Incident report due for api 2.4.1')),
      (m) => m !== undefined,
      30_000,
    );
    expect(textOf(reminder)).toContain('Record incident link');
    expect(stake().filter((m) => m.text.startsWith('Release started'))).toHaveLength(1);
    expect(stake().filter((m) => m.text.startsWith('Rolled back'))).toHaveLength(1);
    expect(stake().filter((m) => m.text.startsWith('Released'))).toEqual([]);

    await eventually(
      () => deliveries.map((d) => d.event),
      (events) => events.includes('rolled_back'),
    );
    expect(deliveries.map((d) => d.event)).toEqual(['started', 'rolled_back']);
    expect(deliveries.map((d) => d.key)).toEqual([`${id}-started`, `${id}-rolled_back`]);
    expect(deliveries.every((d) => d.signed)).toBe(true);
  }, 90_000);

  let firstId = '';

  it('a second release carried to all traffic tracks its post item, and /rollback ends the tracking, naming what was never ticked', async () => {
    firstId = id;
    ({ id, parentTs } = await bumpAndRequestRelease(world, '2.4.2', 'api 2.4.2'));
    const card = await eventually(parent, (m) => checkboxesOf(m).length > 0);
    await toggleChecklistItem(world, 'U0DEV1', card, 'Release notes reviewed');
    await eventually(parent, (m) => textOf(m).includes('“Release notes reviewed” by <@U0DEV1>'));
    expect(await world.click('U0LEAD', 'release_approve', id)).toContain(
      'migrate cannot be undone',
    );
    await eventually(
      () => buttonValue(world.slack, id),
      (value) => /:running_steps\.s0\.r\d+$/.test(value),
    );
    expect(await world.click('U0DEV2', 'release_step_approve', id)).toContain(
      'You approved migrate',
    );
    await eventually(parent, (m) => textOf(m).includes('Promote to ring early'), 30_000);
    await world.click('U0LEAD', 'release_promote', id);
    await eventually(parent, (m) => textOf(m).includes('Promote to ring all'), 30_000);
    await world.click('U0LEAD', 'release_promote', id);
    await eventually(releaseState, (r) => r?.state === 'observing', 30_000);
    for (const lb of lbs())
      await eventually(
        () => shares(lb),
        (s) => s.green === 100 && s.blue === 0,
        30_000,
      );
    // Carrying all traffic, the post item is tracked in the thread, its owner mentioned.
    const post = await eventually(
      () => thread().find((m) => m.text.includes('After release ·')),
      (m) => m !== undefined,
    );
    expect(textOf(post)).toContain('Smoke test passed');
    expect(textOf(post)).toContain('<@U0QA>');

    expect(await world.command('U0LEAD', '/rollback', 'api smoke test failed')).toContain(
      'Rolling api back to 2.4.0',
    );
    await eventually(releaseState, (r) => r?.state === 'rolled_back', 30_000);
    for (const lb of lbs())
      await eventually(
        () => shares(lb),
        (s) => s.blue === 100 && s.green === 0,
        30_000,
      );
    await eventually(threadText, (text) =>
      text.includes(
        'Post-release checklist: tracking ended by the rollback; never ticked: “Smoke test passed”',
      ),
    );
    const late = await toggleChecklistItem(
      world,
      'U0QA',
      thread().find((m) => m.text.includes('After release ·')),
      'Smoke test passed',
    ).catch((e: Error) => e.message);
    expect(late).not.toContain('You ticked');
    // One run of the migration per release, never a second one for either.
    expect(await runs()).toEqual([`migrate ${firstId}`, `migrate ${id}`]);
    await eventually(
      () => deliveries.filter((d) => d.key.startsWith(id)).map((d) => d.event),
      (events) => events.includes('rolled_back'),
    );
    expect(deliveries.map((d) => d.key)).toEqual([
      `${firstId}-started`,
      `${firstId}-rolled_back`,
      `${id}-started`,
      `${id}-rolled_back`,
    ]);
    // The stakeholder notice travels through the Slack outbox, apart from the webhook.
    await eventually(
      () => stake().filter((m) => m.text.startsWith('Rolled back')).length,
      (n) => n >= 2,
    );
    await new Promise((r) => setTimeout(r, 1000)); // and no third one follows
    expect(stake().filter((m) => m.text.startsWith('Rolled back'))).toHaveLength(2);
  }, 180_000);

  it('the audit trail has each step, with who, the flags turned off before the audience and the weights', async () => {
    const entries = await audit();
    const has = (who: string, what: RegExp) =>
      entries.some((e) => e.who === who && what.test(e.what));
    expect(has('U0DEV1', /^\/release api$/)).toBe(true);
    expect(has('U0DEV1', /^ticked pre-release checklist item “Release notes reviewed”$/)).toBe(
      true,
    );
    expect(has('U0LEAD', /^release approve: awaiting_approval → running_steps$/)).toBe(true);
    expect(has('U0DEV2', /^release approve_step/)).toBe(true);
    expect(has('U0DEV1', new RegExp(`^flag ${FLAG} on for 10 %$`))).toBe(true);
    expect(has('U0LEAD', /^release promote/)).toBe(true);
    const whats = entries.map((e) => e.what);
    const flagsOff = whats.indexOf(`rollback turned off flags first: ${FLAG} turned off`);
    expect(flagsOff).toBeGreaterThan(-1);
    const audienceCleared = whats.indexOf('audience set', flagsOff);
    const trafficBack = whats.indexOf('traffic set', flagsOff);
    expect(audienceCleared).toBeGreaterThan(flagsOff);
    expect(trafficBack).toBeGreaterThan(audienceCleared);
    expect(whats.slice(flagsOff).some((w) => /rolled_back/.test(w))).toBe(true);
  });
});
