import { createHmac } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AlertmanagerFixture, startAlertmanager } from '../../testkit/alertmanager-fixture.ts';
import {
  bumpAndRequestRelease,
  eventually,
  loadLoop,
  type ReleaseWorld,
  startReleaseWorld,
  trafficSplit,
} from '../../testkit/release-world.ts';

// The lease is long against the tail so that "cut to the tail when the release ended" and "left
// to run out its lease" stay far apart even when a loaded machine runs the control loop late.
// Longer than a restart under load takes: a lease that lapses while Greenlight restarts is
// (rightly) replaced by a new silence, not found again.
const LEASE_S = 15;
const TAIL_S = 2;
// The first release's stability window: it must outlast the first lease (checked past its end)
// by a margin a loaded machine cannot eat; the restart is done early in it, so it need not fit
// after the lease. The second release (Alertmanager stopped) needs only a few control loop passes.
const WINDOW_MINUTES = 0.5;
const SHORT_WINDOW_MINUTES = 0.15;
const HOOK_SECRET = 'comms-hook-secret-for-tests';
const MATCHERS = [
  { name: 'team', value: 'payments', isRegex: false, isEqual: true },
  { name: 'severity', value: 'warning|info', isRegex: true, isEqual: true },
];

interface Delivery {
  headers: IncomingHttpHeaders;
  body: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('comms: an Alertmanager silence held as a lease, stakeholder notices and webhooks', () => {
  let world: ReleaseWorld;
  let am: AlertmanagerFixture;
  let receiver: Server;
  let load: ReturnType<typeof loadLoop>;
  const deliveries: Delivery[] = [];

  /** The stored release, read straight from Redis. */
  const releaseState = async (id: string) => {
    const json = await world.redis.redis.hget(`{${world.redis.keyPrefix}}:release:${id}`, 'json');
    return json === null ? undefined : (JSON.parse(json) as { state: string; updatedAt: string });
  };
  const silencesOf = async (id: string) =>
    (await am.silences()).filter((s) => s.createdBy === 'greenlight' && s.comment.includes(id));

  beforeAll(async () => {
    am = await startAlertmanager();
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString();
      });
      req.on('end', () => {
        deliveries.push({ headers: req.headers, body });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const address = receiver.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    world = await startReleaseWorld({
      stabilityWindowMinutes: WINDOW_MINUTES,
      serviceExtra: '    analysis: { source: haproxy, minRequests: 0, intervalSeconds: 0.5 }\n',
      topLevelExtra: `comms:
  channels: [C0STAKE]
  alertmanager:
    url: "${am.url}"
    matchers: ${JSON.stringify(MATCHERS)}
    leaseSeconds: ${LEASE_S}
    tailSeconds: ${TAIL_S}
    timeoutMs: 1000
  webhooks:
    - { url: "http://127.0.0.1:${port}/hook", secretEnv: COMMS_HOOK_SECRET, events: [started, released, rolled_back] }
`,
      env: { GREENLIGHT_RECONCILE_INTERVAL_SECONDS: '1', COMMS_HOOK_SECRET: HOOK_SECRET },
    });
    load = loadLoop(world.haproxy.frontendUrl('api'), 2, 20);
  }, 60_000);

  afterAll(async () => {
    await load?.stop();
    await world?.close();
    await am?.close();
    await new Promise((resolve) => receiver?.close(resolve));
  });

  let firstId = '';

  it('holds a silence with the configured matchers during the switch, extends it while the release lasts (across a restart that lost its id), and lets it expire shortly after the release ends', async () => {
    const { id } = await bumpAndRequestRelease(world, '2.4.1');
    firstId = id;
    expect(await silencesOf(id)).toEqual([]); // nothing silenced while approval is pending
    await world.click('U0LEAD', 'release_approve', id);

    const [first] = await eventually(
      () => silencesOf(id),
      (list) => list.some((s) => s.status.state === 'active'),
    );
    if (first === undefined) throw new Error('no silence');
    expect(first.matchers.map((m) => ({ ...m, isEqual: m.isEqual ?? true }))).toEqual(MATCHERS);
    expect(Date.parse(first.endsAt) - Date.now()).toBeLessThanOrEqual(LEASE_S * 1000 + 1000);
    // The silence is taken as the switch starts; the release then reaches its stability window.
    await eventually(
      () => releaseState(id),
      (r) => r?.state === 'observing',
    );

    // A restart that lost the stored id finds the same silence by its comment, makes no second.
    // Early in the first lease, so the lease cannot lapse while Greenlight restarts. The old
    // process is stopped before the record goes, so it can neither write the id back nor push
    // the silence past `before`: only the new process can.
    await world.app.stop('SIGTERM');
    await world.redis.redis.del(`{${world.redis.keyPrefix}}:silence:${id}`);
    const before = Math.max(...(await silencesOf(id)).map((s) => Date.parse(s.endsAt)));
    await world.restart();
    await eventually(
      () => silencesOf(id),
      (list) => list.some((s) => Date.parse(s.endsAt) > before),
      LEASE_S * 1000,
    );
    const afterRestart = (await silencesOf(id)).filter((s) => s.status.state !== 'expired');
    expect(afterRestart.map((s) => s.id)).toEqual([first.id]);
    // And the same process keeps extending it from the id it stored again, not only once.
    const foundEnd = Math.max(...afterRestart.map((s) => Date.parse(s.endsAt)));
    const renewed = await eventually(
      () => silencesOf(id),
      (list) => list.some((s) => Date.parse(s.endsAt) > foundEnd),
      LEASE_S * 1000,
    );
    expect(renewed.filter((s) => s.status.state !== 'expired').map((s) => s.id)).toEqual([
      first.id,
    ]);

    // Past the first lease: still active, the same silence, ending later than it first did,
    // while the release is still in its window.
    await sleep(Math.max(0, Date.parse(first.endsAt) + 1000 - Date.now()));
    const extended = await silencesOf(id);
    expect(extended.map((s) => [s.id, s.status.state])).toEqual([[first.id, 'active']]);
    expect(Date.parse(extended[0]?.endsAt ?? '')).toBeGreaterThan(Date.parse(first.endsAt));
    expect((await releaseState(id))?.state).toBe('observing');

    const ended = await eventually(
      () => releaseState(id),
      (r) => r?.state === 'released',
      60_000,
    );
    const endedAt = Date.parse(ended?.updatedAt ?? '');
    const [expired] = await eventually(
      () => silencesOf(id),
      (list) => list.length > 0 && list.every((s) => s.status.state === 'expired'),
      (TAIL_S + 30) * 1000,
    );
    // Cut to the tail when the release ended, not left to run out its lease (which would end
    // about LEASE_S after the release did).
    expect(Date.parse(expired?.endsAt ?? '')).toBeLessThanOrEqual(endedAt + (TAIL_S + 10) * 1000);
    expect((await am.silences()).filter((s) => s.status.state === 'active')).toEqual([]);
  }, 120_000);

  it('tells the stakeholder channel once when the release starts and once when it is released, across the restart', async () => {
    const stake = () => world.slack.messages('C0STAKE');
    await eventually(stake, (list) => list.some((m) => m.text.includes('Released: api 2.4.1')));
    expect(
      stake().filter((m) => m.text.includes('Release started: api 2.4.0 → 2.4.1')),
    ).toHaveLength(1);
    expect(stake().filter((m) => m.text.includes('Released: api 2.4.1 is live'))).toHaveLength(1);
    // The notice links to the release thread in the release channel.
    expect(JSON.stringify(stake()[0]?.blocks)).toContain('/archives/C0RELEASES/p');
  });

  it('sends signed webhooks for started and released, once each, that a receiver can verify', async () => {
    await eventually(
      () => deliveries.map((d) => JSON.parse(d.body).event),
      (events) => events.includes('released'),
    );
    const events = deliveries.map(
      (d) => JSON.parse(d.body) as { event: string; release: { id: string; version: string } },
    );
    expect(
      events.map((e) => e.event).sort(),
      JSON.stringify(deliveries.map((d) => [d.headers, d.body])),
    ).toEqual(['released', 'started']);
    for (const d of deliveries) {
      const ts = String(d.headers['x-greenlight-timestamp']);
      const expected = `v1=${createHmac('sha256', HOOK_SECRET).update(`v1:${ts}:${d.body}`).digest('hex')}`;
      expect(d.headers['x-greenlight-signature']).toBe(expected);
      expect(Math.abs(Date.now() / 1000 - Number(ts))).toBeLessThan(120);
      expect(d.headers['idempotency-key']).toBe(`${firstId}-${JSON.parse(d.body).event}`);
      expect(d.body).not.toContain(HOOK_SECRET);
    }
    expect(events.every((e) => e.release.id === firstId && e.release.version === '2.4.1')).toBe(
      true,
    );
    // A forged body fails the same check.
    const forged = `v1=${createHmac('sha256', 'wrong').update(`v1:1:${deliveries[0]?.body}`).digest('hex')}`;
    expect(forged).not.toBe(deliveries[0]?.headers['x-greenlight-signature']);
  });

  it('completes a release with Alertmanager stopped, saying once in the thread that nothing is silenced', async () => {
    // The lease across the window is proven above; this release needs only a window in which
    // the control loop tries the silence again a few times, so Greenlight reloads a shorter one.
    const yaml = await readFile(world.configPath, 'utf8');
    const windowLine = `stabilityWindowMinutes: ${WINDOW_MINUTES}\n`;
    expect(yaml).toContain(windowLine);
    await writeFile(
      world.configPath,
      yaml.replace(windowLine, `stabilityWindowMinutes: ${SHORT_WINDOW_MINUTES}\n`),
    );
    await world.restart();
    await am.stop();
    const { id, parentTs } = await bumpAndRequestRelease(world, '2.4.2');
    await world.click('U0LEAD', 'release_approve', id);
    const ended = await eventually(
      () => releaseState(id),
      (r) => r?.state === 'released',
      90_000,
    );
    expect(await trafficSplit(world.haproxy.frontendUrl('api'))).toEqual({ blue: 10 });
    // Tried more than once (the hold at the switch, the control loop in the window, the cut),
    // so "once" below is the thread note being kept to one, not a single attempt.
    await eventually(
      () =>
        world.app
          .logs()
          .filter((l) => l.releaseId === id && l.msg === 'Alertmanager did not take the silence'),
      (attempts) => attempts.length >= 2,
    );
    const notes = world.slack
      .messages('C0RELEASES')
      .filter(
        (m) => m.thread_ts === parentTs && m.text.includes('Alertmanager did not take the silence'),
      );
    expect(notes).toHaveLength(1);
    expect(notes[0]?.text).toContain('unreachable');

    // Back up after the release ended: no silence is made for a release that is over. The
    // control loop still looks at a release that ended within the last lease: wait until a comms
    // step of this release has run with Alertmanager up (or the lease since the end has passed,
    // after which nothing looks at it again).
    await am.start();
    const upAt = Date.now();
    const lookedAgainAt = Date.parse(ended?.updatedAt ?? '') + (LEASE_S + 2) * 1000;
    const stepsSinceUp = async () => {
      const redis = world.redis.redis;
      const queue = `{${world.redis.keyPrefix}}:steps:`;
      // The jobs' hashes, not BullMQ's keys beside them (`<job id>:lock`, `<job id>:logs`).
      const keys = (await redis.keys(`${queue}${id}-comms-*`)).filter(
        (k) => !k.slice(queue.length).includes(':'),
      );
      const jobs = await Promise.all(keys.map((k) => redis.hmget(k, 'processedOn', 'finishedOn')));
      return jobs.filter(([processed, finished]) => finished !== null && Number(processed) >= upAt)
        .length;
    };
    await eventually(
      stepsSinceUp,
      (count) => count > 0 || Date.now() > lookedAgainAt,
      (LEASE_S + 10) * 1000,
    );
    expect(await silencesOf(id)).toEqual([]);
  }, 150_000);
});
