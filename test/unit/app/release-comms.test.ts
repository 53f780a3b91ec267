import { describe, expect, it } from 'vitest';
import type { AppDeps } from '../../../src/app/app-deps.ts';
import type { CommsDeps, IncidentLink } from '../../../src/app/comms-ports.ts';
import {
  commsChanged,
  commsTick,
  recordIncidentLink,
  runCommsStep,
  runIncidentReminder,
} from '../../../src/app/use-cases/release-comms.ts';
import type { Release } from '../../../src/domain/release.ts';
import { apiConfig } from '../../../testkit/api-config.ts';
import { memoryWorld } from '../../../testkit/memory-deps.ts';
import { releaseRecord, serviceRecord } from '../../../testkit/release-fixtures.ts';

const T0 = '2026-11-24T10:00:00.000Z';
const CONFIG = apiConfig({
  roles: '{ lead: [U0LEAD], security: [U0SEC], team: [U0DEV1], cto: [U0CTO] }',
  top: 'comms: { channels: [C0STAKE] }',
  deploy: '{ command: [./deploy.sh] }',
  haproxy: 'servers: { blue: b, green: g }',
});

function world(at: string) {
  const w = memoryWorld(CONFIG, new Date(at));
  const sent: string[] = [];
  const links = new Map<string, IncidentLink>();
  const comms: CommsDeps = {
    config: w.deps.config.comms,
    notices: {
      notice: async (r, kind) => {
        sent.push(`notice ${r.id} ${kind}`);
      },
      incidentReminder: async (r, stage, link) => {
        sent.push(`reminder ${r.id} ${stage}${link ? ` ${link.url}` : ''}`);
      },
    },
    webhooks: {
      send: async (r, event) => {
        sent.push(`webhook ${r.id} ${event}`);
      },
    },
    scheduler: {
      enqueue: async (id, tag) => {
        sent.push(`enqueue ${id} ${tag}`);
      },
      scheduleReminder: async (id, stage, when) => {
        sent.push(`schedule ${id} ${stage} ${when.toISOString()}`);
      },
    },
    links: {
      get: async (id) => links.get(id) ?? null,
      set: async (id, link) => {
        links.set(id, link);
      },
    },
  };
  const deps: AppDeps = { ...w.deps, comms };
  const seed = (changes: Partial<Release>) => w.releases.set('rel-1', releaseRecord(T0, changes));
  return { w, deps, sent, links, seed };
}

const rolledBack = {
  state: 'rolled_back' as const,
  rollback: { by: 'U0LEAD', reason: 'x', at: T0 },
};

describe('the comms step', () => {
  it('sends notices and webhooks and schedules the reminder 24 h and 48 h after a rollback', async () => {
    const { deps, sent, seed } = world(T0);
    seed(rolledBack);
    await runCommsStep(deps, { releaseId: 'rel-1' });
    expect(sent).toEqual([
      'notice rel-1 started',
      'notice rel-1 rolled_back',
      'webhook rel-1 started',
      'webhook rel-1 rolled_back',
      'schedule rel-1 due 2026-11-25T10:00:00.000Z',
      'schedule rel-1 overdue 2026-11-26T10:00:00.000Z',
    ]);
  });

  it('is enqueued, never run, by a state change, and a failing queue does not fail the release', async () => {
    const { deps, sent } = world(T0);
    await commsChanged(deps, releaseRecord(T0, { revision: 7 }));
    expect(sent).toEqual(['enqueue rel-1 r7']);
    const broken: AppDeps = {
      ...deps,
      comms: {
        ...(deps.comms as CommsDeps),
        scheduler: {
          enqueue: async () => {
            throw new Error('Redis down');
          },
          scheduleReminder: async () => {},
        },
      },
    };
    await expect(commsChanged(broken, releaseRecord(T0))).resolves.toBeUndefined();
  });
});

describe('the incident reminder', () => {
  it('is drawn overdue when its due job runs after the deadline (both ran late)', async () => {
    const { deps, sent, seed } = world('2026-11-26T11:00:00.000Z');
    seed(rolledBack);
    await runIncidentReminder(deps, { releaseId: 'rel-1', stage: 'due' });
    expect(sent).toEqual(['reminder rel-1 overdue']);
  });

  it('is not drawn again once the link is recorded, nor for a release no longer rolled back', async () => {
    const { deps, sent, seed, links } = world('2026-11-25T10:00:00.000Z');
    seed(rolledBack);
    links.set('rel-1', { url: 'https://i.example/1', by: 'U0LEAD', at: T0 });
    await runIncidentReminder(deps, { releaseId: 'rel-1', stage: 'overdue' });
    seed({ state: 'released' });
    await runIncidentReminder(deps, { releaseId: 'rel-1', stage: 'due' });
    expect(sent).toEqual([]);
  });

  it('records a link with who and when, audits it and redraws the reminder with it', async () => {
    const { w, deps, sent, seed, links } = world('2026-11-25T12:00:00.000Z');
    seed(rolledBack);
    await recordIncidentLink(deps, {
      releaseId: 'rel-1',
      url: 'https://incidents.example.com/INC-9',
      user: 'U0DEV1',
    });
    expect(links.get('rel-1')).toEqual({
      url: 'https://incidents.example.com/INC-9',
      by: 'U0DEV1',
      at: '2026-11-25T12:00:00.000Z',
    });
    expect(sent).toEqual(['reminder rel-1 due https://incidents.example.com/INC-9']);
    expect(w.audit.map((e) => [e.who, e.what])).toEqual([
      ['U0DEV1', 'incident report link recorded'],
    ]);
  });

  it('records and audits a link submitted twice (a double click, a redelivery) once', async () => {
    const { w, deps, sent, seed, links } = world('2026-11-25T12:00:00.000Z');
    seed(rolledBack);
    const input = {
      releaseId: 'rel-1',
      url: 'https://i.example/INC-1',
      user: 'U0DEV1',
      base: null,
    };
    await recordIncidentLink(deps, input);
    w.clock.advance(2_000);
    const again = await recordIncidentLink(deps, input);
    expect(again.at).toBe('2026-11-25T12:00:00.000Z');
    expect(links.get('rel-1')?.at).toBe('2026-11-25T12:00:00.000Z');
    expect(w.audit).toHaveLength(1);
    expect(sent).toEqual(['reminder rel-1 due https://i.example/INC-1']);
  });

  it('refuses a form opened before someone else recorded a link, keeping theirs and naming it', async () => {
    const { w, deps, sent, seed, links } = world('2026-11-25T12:00:00.000Z');
    seed(rolledBack);
    // Both opened the form while no link was recorded; the lead submits first.
    await recordIncidentLink(deps, {
      releaseId: 'rel-1',
      url: 'https://i.example/INC-1',
      user: 'U0LEAD',
      base: null,
    });
    await expect(
      recordIncidentLink(deps, {
        releaseId: 'rel-1',
        url: 'https://i.example/OTHER',
        user: 'U0DEV1',
        base: null,
      }),
    ).rejects.toThrow(/<@U0LEAD> recorded .*i\.example.* while your form was open/);
    expect(links.get('rel-1')?.url).toBe('https://i.example/INC-1');
    expect(w.audit).toHaveLength(1);
    expect(sent).toHaveLength(1);
    // A form opened over that link replaces it (Change incident link).
    await recordIncidentLink(deps, {
      releaseId: 'rel-1',
      url: 'https://i.example/OTHER',
      user: 'U0DEV1',
      base: '2026-11-25T12:00:00.000Z',
    });
    expect(links.get('rel-1')?.url).toBe('https://i.example/OTHER');
  });

  it.each([
    [{ state: 'released' as const }, 'https://i.example/1', 'Only a rolled-back release'],
    [rolledBack, 'javascript:alert(1)', 'not an http(s) address'],
  ])('refuses %o with %s, recording nothing', async (changes, url, why) => {
    const { deps, seed, links, sent } = world(T0);
    seed(changes);
    await expect(
      recordIncidentLink(deps, { releaseId: 'rel-1', url, user: 'U0DEV1' }),
    ).rejects.toThrow(why);
    expect(links.size).toBe(0);
    expect(sent).toEqual([]);
  });
});

describe('the control loop and the lease', () => {
  it('pushes the silence of a canary forward well inside each lease, however long the ramp, and stops one lease after it ends', async () => {
    const { w, deps, sent, seed } = world(T0);
    const leaseSeconds = 900;
    const held: AppDeps = {
      ...deps,
      comms: {
        ...(deps.comms as CommsDeps),
        config: {
          ...(deps.comms as CommsDeps).config,
          alertmanager: {
            url: 'http://am:9093',
            matchers: [{ name: 'team', value: 'payments', isRegex: false, isEqual: true }],
            leaseSeconds,
            tailSeconds: 300,
            timeoutMs: 3000,
          },
        },
      },
    };
    w.services.set('api', serviceRecord(T0));
    const ramp = { steps: [5, 20, 50, 100], stepIndex: 0, stepStartedAt: T0 };
    seed({ state: 'ramping', strategy: 'canary', canary: ramp });
    const enqueuedAt: number[] = [];
    // Three hours of control loop passes, 60 s apart, through every canary step.
    for (let minute = 0; minute < 180; minute++) {
      if (minute % 45 === 0)
        seed({
          state: 'ramping',
          strategy: 'canary',
          canary: { ...ramp, stepIndex: Math.min(3, minute / 45) },
          updatedAt: w.clock.now().toISOString(),
        });
      // A repeated tag is the same job (BullMQ keeps one per id): only a new tag extends.
      const tags = new Set(sent);
      await commsTick(held, 'api');
      if (sent.some((line) => !tags.has(line))) enqueuedAt.push(w.clock.now().getTime());
      w.clock.advance(60_000);
    }
    const gaps = enqueuedAt.slice(1).map((t, i) => t - (enqueuedAt[i] ?? t));
    expect(enqueuedAt.length).toBeGreaterThan(40);
    expect(Math.max(...gaps)).toBeLessThanOrEqual((leaseSeconds / 4 + 60) * 1000);
    // Released now: looked at again within one lease (a lost cut), then left alone.
    seed({ state: 'released', updatedAt: w.clock.now().toISOString() });
    sent.length = 0;
    for (let minute = 0; minute < 40; minute++) {
      await commsTick(held, 'api');
      w.clock.advance(60_000);
    }
    expect(new Set(sent).size).toBeGreaterThan(1);
    const last = sent.length;
    for (let minute = 0; minute < 30; minute++) {
      await commsTick(held, 'api');
      w.clock.advance(60_000);
    }
    expect(sent.length).toBe(last);
  });
});

describe('comms.services', () => {
  it('leaves the releases of services it does not list alone', async () => {
    const { deps, sent, seed } = world(T0);
    const only: AppDeps = {
      ...deps,
      comms: {
        ...(deps.comms as CommsDeps),
        config: { ...(deps.comms as CommsDeps).config, services: ['web'] },
      },
    };
    seed(rolledBack);
    await commsChanged(only, releaseRecord(T0));
    await runCommsStep(only, { releaseId: 'rel-1' });
    expect(sent).toEqual([]);
    // A button value forged with the id of such a release records nothing and posts nothing.
    await expect(
      recordIncidentLink(only, { releaseId: 'rel-1', url: 'https://i.example/1', user: 'U0LEAD' }),
    ).rejects.toThrow('Only a rolled-back release');
    expect(sent).toEqual([]);
  });
});
