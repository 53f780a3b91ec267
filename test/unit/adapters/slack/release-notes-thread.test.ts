import type { Queue } from 'bullmq';
import { describe, expect, it } from 'vitest';
import {
  notesBlocks,
  releaseNotesMessage,
} from '../../../../src/adapters/slack/blocks/release-notes-thread.ts';
import { SlackNotifier } from '../../../../src/adapters/slack/slack-notifier.ts';
import { parseConfig } from '../../../../src/config/load-config.ts';
import type { Release } from '../../../../src/domain/release.ts';
import type {
  NoteEntry,
  NotesAvailable,
  ReleaseNotes,
} from '../../../../src/domain/release-notes.ts';

const WEB = 'https://github.com/acme/api';
const COMPARE = `${WEB}/compare/v2.4.0...v2.4.1`;

const entry = (
  group: NoteEntry['group'],
  text: string,
  pr?: number,
  author = 'Ann',
): NoteEntry => ({
  group,
  text,
  author,
  sha: 'abcdef0123',
  refs: pr === undefined ? [] : [{ label: `#${pr}`, url: `${WEB}/pull/${pr}` }],
});

const notes = (entries: NoteEntry[], extra: Partial<NotesAvailable> = {}): NotesAvailable => ({
  ok: true,
  fromTag: 'v2.4.0',
  toTag: 'v2.4.1',
  total: entries.length,
  entries,
  compareUrl: COMPARE,
  ...extra,
});

const release = (releaseNotes?: ReleaseNotes): Release => ({
  id: 'rel-1',
  service: 'api',
  version: '2.4.1',
  fromVersion: '2.4.0',
  type: 'patch',
  strategy: 'bluegreen',
  requester: 'U0DEV1',
  requiredRoles: ['lead'],
  approvals: [],
  state: 'released',
  stateSince: '2026-11-24T10:00:00.000Z',
  fromSlot: 'blue',
  toSlot: 'green',
  timeline: [],
  createdAt: '2026-11-24T10:00:00.000Z',
  updatedAt: '2026-11-24T10:00:00.000Z',
  revision: 3,
  ...(releaseNotes ? { notes: releaseNotes } : {}),
});

const textOf = (r: Release) =>
  (releaseNotesMessage(r)?.blocks ?? []).map((b) => (b as { text: { text: string } }).text.text);

describe('releaseNotesMessage', () => {
  it("puts the sections in the seed's order, empty ones left out, links and authors kept", () => {
    // Stored as the card orders them: breaking, security, feature, fix (no enhancement).
    const stored = notes([
      entry('breaking', 'one token format', 23, 'Cy'),
      entry('security', 'escape names', 24, 'Sec'),
      entry('feature', 'export as CSV', 21),
      entry('feature', 'import from CSV', undefined, 'Bob'),
      entry('fix', 'crash on empty history', 22, 'Bob'),
    ]);
    const [text, ...rest] = textOf(release(stored));
    expect(rest).toEqual([]);
    expect(text?.split('\n')).toEqual([
      `*Release notes · api 2.4.1* · <${COMPARE}|v2.4.0...v2.4.1> · 5 commits`,
      '*New features*',
      `• export as CSV (<${WEB}/pull/21|#21>) · Ann`,
      '• import from CSV · Bob',
      '*Bug fixes*',
      `• crash on empty history (<${WEB}/pull/22|#22>) · Bob`,
      '*Breaking changes*',
      `• one token format (<${WEB}/pull/23|#23>) · Cy`,
      '*Security*',
      `• escape names (<${WEB}/pull/24|#24>) · Sec`,
    ]);
    expect(text).not.toContain('Enhancements');
  });

  it('puts Enhancements between New features and Bug fixes, other changes last', () => {
    const text = textOf(
      release(
        notes([
          entry('fix', 'f'),
          entry('enhancement', 'e'),
          entry('other', 'o'),
          entry('feature', 'n'),
        ]),
      ),
    ).join('\n');
    const titles = text.split('\n').filter((l) => /^\*[A-Z][a-z ]+\*$/.test(l));
    expect(titles).toEqual(['*New features*', '*Enhancements*', '*Bug fixes*', '*Other changes*']);
  });

  it('posts nothing without notes, with unavailable notes, or with no commits', () => {
    expect(releaseNotesMessage(release())).toBeUndefined();
    expect(releaseNotesMessage(release({ ok: false, reason: 'tag v2.4.1 not found' }))).toBe(
      undefined,
    );
    expect(releaseNotesMessage(release(notes([])))).toBeUndefined();
  });

  it('does not escape the stored text a second time', () => {
    const [text] = textOf(release(notes([entry('fix', 'escape ‹@U0CTO› &amp; co', 1)])));
    expect(text).toContain('• escape ‹@U0CTO› &amp; co (');
    expect(text).not.toContain('&amp;amp;');
  });

  it('splits across sections of at most 3000 characters, the heading kept on each', () => {
    const many = Array.from({ length: 100 }, (_, i) =>
      entry(i < 60 ? 'fix' : 'feature', `bug number ${i} in a long enough description`, 1000 + i),
    );
    const blocks = textOf(release(notes(many)));
    expect(blocks.length).toBeGreaterThan(1);
    for (const b of blocks) expect(b.length).toBeLessThanOrEqual(3000);
    const lines = blocks.flatMap((b) => b.split('\n'));
    expect(lines.filter((l) => l.startsWith('• '))).toHaveLength(100);
    expect(lines.filter((l) => l === '*New features*').length).toBeGreaterThanOrEqual(1);
    expect(lines.indexOf('*New features*')).toBeLessThan(lines.indexOf('*Bug fixes*'));
    // A section carried into the next block repeats its title there.
    for (const b of blocks.slice(1)) expect(b).toMatch(/^\*(New features|Bug fixes)\*\n/);
    expect(blocks.join('\n')).not.toContain('more');
  });

  it('stops at the block limit with "…and N more" and the compare link', () => {
    const many = Array.from({ length: 100 }, (_, i) => entry('fix', `bug ${i}`, 1000 + i));
    const blocks = notesBlocks(notes(many, { total: 300 }), '*Notes*', 500, 3);
    expect(blocks).toHaveLength(3);
    for (const b of blocks) expect(b.length).toBeLessThanOrEqual(500);
    const shown = blocks
      .join('\n')
      .split('\n')
      .filter((l) => l.startsWith('• ')).length;
    expect(shown).toBeLessThan(100);
    expect(blocks.at(-1)?.endsWith(`_…and ${300 - shown} more: <${COMPARE}|compare>_`)).toBe(true);
  });

  it('says how many more when the record kept fewer entries than commits', () => {
    const blocks = notesBlocks(notes([entry('fix', 'a', 1)], { total: 250 }), '*Notes*');
    expect(blocks).toHaveLength(1);
    expect(blocks[0]).toContain(`_…and 249 more: <${COMPARE}|compare>_`);
  });

  it('holds to 50 blocks of 3000 characters for the most a record stores', () => {
    const long = 'x'.repeat(180);
    const many = Array.from({ length: 100 }, (_, i) => entry('fix', `${long} ${i}`, 1000 + i));
    const blocks = textOf(release(notes(many, { total: 5000 })));
    expect(blocks.length).toBeLessThanOrEqual(50);
    for (const b of blocks) expect(b.length).toBeLessThanOrEqual(3000);
    expect(blocks.at(-1)).toContain('more: <');
  });
});

describe('SlackNotifier: the notes in the thread', () => {
  const config = parseConfig(`
alertsChannel: C0ALERTS
roles: { lead: [U0LEAD], security: [S0SEC], team: [U0DEV1], cto: [U0CTO] }
services:
  api:
    channel: C0RELEASES
    bootstrap: { production: blue, version: 2.4.0 }
    slots: { blue: { url: "http://127.0.0.1:1" }, green: { url: "http://127.0.0.1:2" } }
    deploy: { command: [./deploy.sh] }
    traffic: { haproxy: { runtimeApi: 127.0.0.1:9, backend: api, servers: { blue: b, green: g } } }
`);
  const state = {
    service: 'api',
    production: 'green' as const,
    slots: {
      blue: { version: '2.4.0', health: 'healthy' as const, updatedAt: '2026-11-24T10:00:00.000Z' },
      green: {
        version: '2.4.1',
        health: 'healthy' as const,
        updatedAt: '2026-11-24T10:00:00.000Z',
      },
    },
    operation: null,
    lastReleaseId: 'rel-1',
    revision: 4,
  };
  const setup = () => {
    const jobs: { id: string; key: string; thread?: string }[] = [];
    const queue = {
      add: async (
        _name: string,
        data: { key: string; threadKey?: string },
        opts: { jobId: string },
      ) => {
        jobs.push({
          id: opts.jobId,
          key: data.key,
          ...(data.threadKey ? { thread: data.threadKey } : {}),
        });
      },
    } as unknown as Queue;
    return { jobs, notifier: new SlackNotifier(queue, config) };
  };
  const stored = notes([entry('fix', 'crash', 22)]);
  const notesJobs = (jobs: { id: string; key: string; thread?: string }[]) =>
    jobs.filter((j) => j.key === 'rel-1-notes');

  it('released straight away: the notes follow the completion report, under one key', async () => {
    const { jobs, notifier } = setup();
    await notifier.releaseChanged(release(stored), state);
    await notifier.releaseReport(release(stored), state);
    await notifier.releaseReport(release(stored), state); // a retried step
    const keys = jobs.map((j) => j.key);
    expect(keys.indexOf('rel-1-notes')).toBeGreaterThan(keys.indexOf('rel-1-report'));
    expect(new Set(notesJobs(jobs).map((j) => j.id))).toEqual(new Set(['rel-1-notes']));
    expect(notesJobs(jobs)[0]?.thread).toBe('rel-1-parent');
  });

  it('released after a stability window: the notes come when the window ends, not at the switch', async () => {
    const { jobs, notifier } = setup();
    const window = {
      releasedAt: '2026-11-24T10:05:00.000Z',
      observeUntil: '2026-11-24T10:35:00.000Z',
    };
    await notifier.releaseReport({ ...release(stored), ...window, state: 'observing' }, state);
    expect(notesJobs(jobs)).toEqual([]);
    await notifier.releaseChanged({ ...release(stored), ...window, state: 'released' }, state);
    expect(notesJobs(jobs)).toHaveLength(1);
  });

  it('posts nothing for a release without notes', async () => {
    const { jobs, notifier } = setup();
    await notifier.releaseReport(release(), state);
    await notifier.releaseReport(release({ ok: false, reason: 'tag v2.4.1 not found' }), state);
    expect(notesJobs(jobs)).toEqual([]);
  });
});
