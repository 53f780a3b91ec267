import { describe, expect, it } from 'vitest';
import {
  buildReleaseNotes,
  type Commit,
  groupOf,
  notesText,
  notesUnavailableText,
  parseCommit,
  webLinks,
} from '../../../src/domain/release-notes.ts';

let n = 0;
const commit = (subject: string, body = '', author = 'Dana Dev'): Commit => {
  n += 1;
  return { sha: `${n.toString(16).padStart(8, '0')}abcdef0123`, author, subject, body };
};

const GITHUB = webLinks('https://github.com/acme/api');
const GITLAB = webLinks('https://gitlab.example.com/acme/api');

describe('parseCommit', () => {
  it.each([
    ['feat: add export', 'feat', null, false, false, 'add export'],
    ['feat(api): add export (#12)', 'feat', 'api', false, false, 'add export'],
    ['fix(api)!: drop v1 routes', 'fix', 'api', true, false, 'drop v1 routes'],
    ['security: patch token check', 'security', null, false, true, 'patch token check'],
    ['sec(auth): rotate keys', 'sec', 'auth', false, true, 'rotate keys'],
    ['fix(security): escape html', 'fix', 'security', false, true, 'escape html'],
    ['Perf(db): batch writes', 'perf', 'db', false, false, 'batch writes'],
    ['Update README', null, null, false, false, 'Update README'],
    [
      'feat:no space is not conventional',
      null,
      null,
      false,
      false,
      'feat:no space is not conventional',
    ],
  ])('reads %j', (subject, type, scope, breaking, security, description) => {
    const parsed = parseCommit(commit(subject));
    expect(parsed).toMatchObject({ type, scope, breaking, security, description });
  });

  it('takes a BREAKING CHANGE footer as breaking, only on a conventional commit', () => {
    expect(
      parseCommit(commit('refactor: new config', 'Body.\n\nBREAKING CHANGE: x moved')).breaking,
    ).toBe(true);
    expect(parseCommit(commit('chore: y', 'BREAKING-CHANGE: y')).breaking).toBe(true);
    expect(parseCommit(commit('Plain subject', 'BREAKING CHANGE: z')).breaking).toBe(false);
    expect(parseCommit(commit('docs: mention BREAKING CHANGE: in text')).breaking).toBe(false);
  });

  it('finds GitHub PR and GitLab MR numbers, and takes them out of the description', () => {
    expect(parseCommit(commit('fix: a (#123)')).refs).toEqual([{ sigil: '#', number: 123 }]);
    expect(parseCommit(commit('fix: b !45'))).toMatchObject({
      description: 'b',
      refs: [{ sigil: '!', number: 45 }],
    });
    expect(parseCommit(commit('feat: c', 'Details\n\nSee merge request acme/api!46')).refs).toEqual(
      [{ sigil: '!', number: 46 }],
    );
    expect(parseCommit(commit('feat: wow! great')).refs).toEqual([]);
  });

  it.each([
    ['feat!: x', 'breaking'],
    ['security!: x', 'breaking'],
    ['fix(security): x', 'security'],
    ['feat: x', 'feature'],
    ['fix: x', 'fix'],
    ['perf: x', 'enhancement'],
    ['refactor: x', 'enhancement'],
    ['docs: x', 'other'],
    ['chore(deps): x', 'other'],
    ['Merge this', 'other'],
  ])('puts %j in %s', (subject, group) => {
    expect(groupOf(parseCommit(commit(subject)))).toBe(group);
  });
});

describe('buildReleaseNotes', () => {
  const commits = [
    commit('docs: typo'),
    commit('feat(api): add export (#12)', '', 'Ann'),
    commit('fix: crash on empty list (#13)'),
    commit('fix(auth)!: tokens expire sooner (#14)'),
    commit('security: escape <script> in names (#15)', '', 'Sec Team'),
    commit('perf: faster list'),
    commit('Untyped change'),
  ];

  it('orders breaking changes and security fixes first, then features, fixes and the rest', () => {
    const notes = buildReleaseNotes(commits, { fromTag: 'v2.4.0', toTag: 'v2.4.1', web: GITHUB });
    expect(notes.entries.map((e) => e.group)).toEqual([
      'breaking',
      'security',
      'feature',
      'fix',
      'enhancement',
      'other',
      'other',
    ]);
    expect(notes.total).toBe(7);
    expect(notes.compareUrl).toBe('https://github.com/acme/api/compare/v2.4.0...v2.4.1');
    expect(notes.entries[0]?.refs).toEqual([
      { label: '#14', url: 'https://github.com/acme/api/pull/14' },
    ]);
  });

  it('links GitLab merge requests and the GitLab compare view', () => {
    const notes = buildReleaseNotes([commit('feat: x !45')], {
      fromTag: 'v1.0.0',
      toTag: 'v1.1.0',
      web: GITLAB,
    });
    expect(notes.entries[0]?.refs).toEqual([
      { label: '!45', url: 'https://gitlab.example.com/acme/api/-/merge_requests/45' },
    ]);
    expect(notes.compareUrl).toBe('https://gitlab.example.com/acme/api/-/compare/v1.0.0...v1.1.0');
  });

  it('keeps numbers as text without a web URL', () => {
    const notes = buildReleaseNotes([commit('fix: y (#9)')], { fromTag: 'a', toTag: 'b' });
    expect(notes.entries[0]?.refs).toEqual([{ label: '#9' }]);
    expect(notes.compareUrl).toBeUndefined();
    expect(notesText(notes)).toContain('• y (#9) · Dana Dev');
  });

  it('makes commit text unable to mention, link or format', () => {
    const hostile = commit(
      'feat(<!here>): <https://evil.example|click> *bold* `code` <@U0CTO> (#1)',
      '',
      '<!channel> Mallory',
    );
    const text = notesText(buildReleaseNotes([hostile], { fromTag: 'a', toTag: 'b', web: GITHUB }));
    const lines = text.split('\n').slice(2).join('\n');
    expect(lines).not.toMatch(/<[!@]/);
    expect(lines).not.toContain('https://evil');
    expect(lines).not.toMatch(/[*`]bold|[*`]code/);
    // Greenlight's own link survives.
    expect(lines).toContain('<https://github.com/acme/api/pull/1|#1>');
  });

  it('keeps at most maxEntries on the record, with the total', () => {
    const many = Array.from({ length: 300 }, (_, i) => commit(`fix: bug ${i}`));
    const notes = buildReleaseNotes(many, { fromTag: 'a', toTag: 'b' });
    expect(notes.entries).toHaveLength(100);
    expect(notes.total).toBe(300);
  });
});

describe('notesText', () => {
  it('groups lines under titles, breaking and security first', () => {
    const text = notesText(
      buildReleaseNotes(
        [
          commit('feat(api): add export (#12)', '', 'Ann'),
          commit('security: patch (#15)', '', 'Sec'),
          commit('fix!: drop v1'),
          commit('chore(ci): bump node'),
        ],
        { fromTag: 'v2.4.0', toTag: 'v2.4.1', web: GITHUB },
      ),
    );
    expect(text.split('\n')).toEqual([
      '*What changes* · <https://github.com/acme/api/compare/v2.4.0...v2.4.1|v2.4.0...v2.4.1> · 4 commits',
      '*Breaking changes*',
      '• drop v1 · Dana Dev',
      '*Security*',
      '• patch (<https://github.com/acme/api/pull/15|#15>) · Sec',
      '*New features*',
      '• *api:* add export (<https://github.com/acme/api/pull/12|#12>) · Ann',
      '*Other changes*',
      '• chore(ci): bump node · Dana Dev',
    ]);
  });

  it('cuts to the section limit with "and N more" and the compare link', () => {
    const many = Array.from({ length: 300 }, (_, i) =>
      commit(`fix(api): a long description of bug number ${i} that takes room (#${1000 + i})`),
    );
    const notes = buildReleaseNotes(many, { fromTag: 'v1', toTag: 'v2', web: GITHUB });
    const text = notesText(notes, 3000, 1000);
    expect(text.length).toBeLessThanOrEqual(3000);
    const shown = text.split('\n').filter((l) => l.startsWith('• ')).length;
    expect(shown).toBeGreaterThan(5);
    expect(text.endsWith(`_…and ${300 - shown} more: <${notes.compareUrl}|compare>_`)).toBe(true);
  });

  it('cuts at maxLines too', () => {
    const notes = buildReleaseNotes(
      Array.from({ length: 50 }, (_, i) => commit(`feat: f${i}`)),
      { fromTag: 'v1', toTag: 'v2' },
    );
    const text = notesText(notes, 3000, 10);
    expect(text.split('\n').filter((l) => l.startsWith('• '))).toHaveLength(10);
    expect(text).toMatch(/_…and 40 more_$/);
  });

  it('says so when there are no commits between the tags', () => {
    const notes = buildReleaseNotes([], { fromTag: 'v1', toTag: 'v2' });
    expect(notesText(notes)).toBe(
      '*What changes* · v1...v2 · 0 commits\nNo commits between v1 and v2.',
    );
  });

  it('gives one line when the notes are unavailable, the reason made safe', () => {
    expect(
      notesUnavailableText({ ok: false, reason: 'tag v2.4.1 not found in <https://x.example/r>' }),
    ).toBe(':warning: Release notes unavailable: tag v2.4.1 not found in ‹https∶//x.example/r›');
  });
});
