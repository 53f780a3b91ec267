import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GitChangeLog } from '../../src/adapters/git/git-change-log.ts';
import { ChildEnvironments } from '../../src/adapters/process/child-env.ts';
import { parseConfig } from '../../src/config/load-config.ts';
import {
  bumpAndRequestRelease,
  eventually,
  type ReleaseWorld,
  startReleaseWorld,
} from '../../testkit/release-world.ts';
import type { EmulatedMessage } from '../../testkit/slack-emulator.ts';

/** A real repository, built by git itself: commits by several people, tags on versions. */
class TestRepo {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  git(...args: string[]): string {
    return execFileSync('git', args, {
      cwd: this.dir,
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '', HOME: this.dir, GIT_CONFIG_NOSYSTEM: '1' },
    });
  }

  commit(message: string, author = 'Dana Dev'): void {
    const [subject = '', ...body] = message.split('\n\n');
    this.git(
      '-c',
      `user.name=${author}`,
      '-c',
      'user.email=dev@example.com',
      'commit',
      '--quiet',
      '--allow-empty',
      '-m',
      subject,
      ...body.flatMap((paragraph) => ['-m', paragraph]),
    );
  }

  /** Many empty commits at once, through one `git fast-import` (one process, not one each). */
  commitMany(subjects: readonly string[], author = 'Dana Dev'): void {
    const head = this.git('rev-parse', 'HEAD').trim();
    const stream = subjects
      .map((subject, i) => {
        const message = `${subject}\n`;
        const who = `${author} <dev@example.com> ${1_700_000_000 + i} +0000`;
        const from = i === 0 ? `from ${head}\n` : '';
        return `commit refs/heads/main\nauthor ${who}\ncommitter ${who}\ndata ${Buffer.byteLength(message)}\n${message}${from}\n`;
      })
      .join('');
    execFileSync('git', ['fast-import', '--quiet'], { cwd: this.dir, input: stream });
  }

  tag(name: string): void {
    this.git('tag', name);
  }

  static async create(): Promise<TestRepo> {
    const repo = new TestRepo(await mkdtemp(join(tmpdir(), 'greenlight-notes-repo-')));
    repo.git('init', '--quiet', '--initial-branch=main');
    return repo;
  }
}

const WEB = 'https://github.com/acme/api';

async function historyOf241(): Promise<TestRepo> {
  const repo = await TestRepo.create();
  repo.commit('feat: first release');
  repo.tag('v2.4.0');
  repo.commit('docs: explain the export (#20)', 'Rita Writer');
  repo.commit('feat(api): export releases as CSV (#21)', 'Ann Author');
  repo.commit('fix: crash on an empty history (#22)', 'Bob Builder');
  repo.commit(
    'refactor(auth): one token format\n\nBREAKING CHANGE: v1 tokens are refused (#23)',
    'Cy Coder',
  );
  repo.commit('fix(security): escape <@U0CTO> in names (#24)', 'Sec Team');
  repo.commit('Tidy up whitespace', 'Ann Author');
  repo.tag('v2.4.1');
  return repo;
}

function parentText(world: ReleaseWorld, releaseId: string): string {
  const parent: EmulatedMessage | undefined = world.slack
    .messages('C0RELEASES')
    .find(
      (m) => m.thread_ts === undefined && JSON.stringify(m.blocks).includes(`Release ${releaseId}`),
    );
  return (parent?.blocks ?? [])
    .flatMap((b) => {
      const block = b as { text?: { text?: unknown }; elements?: { text?: unknown }[] };
      return [block.text?.text, ...(block.elements ?? []).map((e) => e.text)];
    })
    .filter((t): t is string => typeof t === 'string' && t !== '')
    .join('\n');
}

/** The thread replies under a release's message that carry its full notes, as texts. */
function threadNotes(world: ReleaseWorld, releaseId: string): string[] {
  const messages = world.slack.messages('C0RELEASES');
  const parent = messages.find(
    (m) => m.thread_ts === undefined && JSON.stringify(m.blocks).includes(`Release ${releaseId}`),
  );
  return messages
    .filter((m) => parent !== undefined && m.thread_ts === parent.ts)
    .map((m) =>
      (m.blocks ?? [])
        .map((b) => (b as { text?: { text?: unknown } }).text?.text)
        .filter((t): t is string => typeof t === 'string')
        .join('\n'),
    )
    .filter((t) => t.startsWith('*Release notes · '));
}

async function released(world: ReleaseWorld, id: string): Promise<void> {
  expect(await world.click('U0LEAD', 'release_approve', id)).toContain('switching api');
  await eventually(
    () => parentText(world, id),
    (text) => text.includes('Released'),
  );
}

describe('release notes in the approval card, from a real git repository', () => {
  let world: ReleaseWorld;
  let repo: TestRepo;
  let cacheDir: string;

  beforeAll(async () => {
    repo = await historyOf241();
    cacheDir = await mkdtemp(join(tmpdir(), 'greenlight-cache-'));
    world = await startReleaseWorld({
      serviceExtra: `    changes: { git: { repo: "${repo.dir}", webUrl: "${WEB}" } }\n`,
      env: { GREENLIGHT_CACHE_DIR: cacheDir },
    });
  });

  afterAll(async () => {
    await world?.close();
    await rm(repo.dir, { recursive: true, force: true });
    await rm(cacheDir, { recursive: true, force: true });
  });

  it('shows the commits between the tags, breaking changes and security fixes first, PRs linked', async () => {
    const { id } = await bumpAndRequestRelease(world, '2.4.1');
    const text = parentText(world, id);
    const notes = text.slice(text.indexOf('*What changes*'));
    expect(notes.split('\n')).toEqual([
      `*What changes* · <${WEB}/compare/v2.4.0...v2.4.1|v2.4.0...v2.4.1> · 6 commits`,
      '*Breaking changes*',
      '• *auth:* one token format · Cy Coder',
      '*Security*',
      `• *security:* escape ‹@U0CTO› in names (<${WEB}/pull/24|#24>) · Sec Team`,
      '*New features*',
      `• *api:* export releases as CSV (<${WEB}/pull/21|#21>) · Ann Author`,
      '*Bug fixes*',
      `• crash on an empty history (<${WEB}/pull/22|#22>) · Bob Builder`,
      '*Other changes*',
      '• Tidy up whitespace · Ann Author',
      `• docs: explain the export (<${WEB}/pull/20|#20>) · Rita Writer`,
      expect.stringMatching(/^Release rel-/),
    ]);
    // Greenlight's clone lives in its own cache directory, not in the repository.
    expect(
      repo
        .git('-C', join(cacheDir, 'greenlight-git', 'api'), 'rev-parse', '--is-bare-repository')
        .trim(),
    ).toBe('true');
    // Nothing in the thread before the release.
    expect(threadNotes(world, id)).toEqual([]);
    await released(world, id);
    // The notes stay on the card after the release.
    expect(parentText(world, id)).toContain('*Breaking changes*');
    // The full notes go into the thread once released, in the seed's order.
    const [full] = await eventually(
      () => threadNotes(world, id),
      (found) => found.length > 0,
    );
    expect(full?.split('\n')).toEqual([
      `*Release notes · api 2.4.1* · <${WEB}/compare/v2.4.0...v2.4.1|v2.4.0...v2.4.1> · 6 commits`,
      '*New features*',
      `• *api:* export releases as CSV (<${WEB}/pull/21|#21>) · Ann Author`,
      '*Bug fixes*',
      `• crash on an empty history (<${WEB}/pull/22|#22>) · Bob Builder`,
      '*Breaking changes*',
      '• *auth:* one token format · Cy Coder',
      '*Security*',
      `• *security:* escape ‹@U0CTO› in names (<${WEB}/pull/24|#24>) · Sec Team`,
      '*Other changes*',
      '• Tidy up whitespace · Ann Author',
      `• docs: explain the export (<${WEB}/pull/20|#20>) · Rita Writer`,
    ]);
    // Once: the completion report comes first, and nothing posts the notes again after it.
    const thread = () => {
      const parent = world.slack
        .messages('C0RELEASES')
        .find(
          (m) => m.thread_ts === undefined && JSON.stringify(m.blocks).includes(`Release ${id}`),
        );
      return world.slack.messages('C0RELEASES').filter((m) => m.thread_ts === parent?.ts);
    };
    const replies = thread().map((m) => JSON.stringify(m.blocks));
    const report = replies.findIndex((r) => r.includes('Switch HAProxy traffic'));
    const notesAt = replies.findIndex((r) => r.includes('*Release notes · '));
    expect(report).toBeGreaterThanOrEqual(0);
    expect(notesAt).toBeGreaterThan(report);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(threadNotes(world, id)).toHaveLength(1);
  });

  it('says a tag is missing in one line, and the release still goes through', async () => {
    repo.commit('fix: something not tagged yet');
    const { id } = await bumpAndRequestRelease(world, '2.4.2');
    expect(parentText(world, id)).toContain(
      `:warning: Release notes unavailable: tag v2.4.2 not found in ${repo.dir}`,
    );
    await released(world, id);
    // Notes that could not be read put nothing in the thread.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(threadNotes(world, id)).toEqual([]);
  });

  it('cuts 300 commits to what the card holds, with "and N more" and the compare link', async () => {
    repo.tag('v2.4.2');
    repo.commitMany(
      Array.from(
        { length: 300 },
        (_, i) => `fix(api): bug number ${i} in a long enough description (#${1000 + i})`,
      ),
    );
    repo.tag('v2.4.3');
    const { id } = await bumpAndRequestRelease(world, '2.4.3');
    const text = parentText(world, id);
    const notes = text.slice(text.indexOf('*What changes*'), text.indexOf('\nRelease rel-'));
    expect(notes.length).toBeLessThanOrEqual(3000);
    expect(notes).toContain('· 300 commits');
    const shown = notes.split('\n').filter((l) => l.startsWith('• ')).length;
    expect(shown).toBeGreaterThan(10);
    expect(notes).toContain(`_…and ${300 - shown} more: <${WEB}/compare/v2.4.2...v2.4.3|compare>_`);
    await released(world, id);
    // The thread holds every line the record kept (100), then "…and 200 more".
    const [full = ''] = await eventually(
      () => threadNotes(world, id),
      (found) => found.length > 0,
    );
    expect(full.split('\n').filter((l) => l.startsWith('• '))).toHaveLength(100);
    expect(full).toContain(`_…and 200 more: <${WEB}/compare/v2.4.2...v2.4.3|compare>_`);
  });
});

describe('GitChangeLog on its own', () => {
  const config = (repo: string) =>
    parseConfig(`
alertsChannel: C0ALERTS
roles: { lead: [U0LEAD], security: [S0SEC], team: [U0DEV1], cto: [U0CTO] }
services:
  api:
    channel: C0RELEASES
    bootstrap: { production: blue, version: 2.4.0 }
    slots: { blue: { url: "http://127.0.0.1:1" }, green: { url: "http://127.0.0.1:2" } }
    deploy: { command: [./deploy.sh] }
    traffic: { haproxy: { runtimeApi: 127.0.0.1:9, backend: api, servers: { blue: b, green: g } } }
    changes: { git: { repo: ${JSON.stringify(repo)}, timeoutSeconds: 10 } }
`).services;

  it('says a repository cannot be reached, credentials left out, without throwing', async () => {
    const cacheDir = await mkdtemp(join(tmpdir(), 'greenlight-cache-'));
    try {
      for (const repo of ['/nonexistent/greenlight/repo', 'http://user:s3cret@127.0.0.1:9/r.git']) {
        const services = config(repo);
        const log = new GitChangeLog(services, {
          cacheDir,
          env: new ChildEnvironments(process.env, services),
          cwd: process.cwd(),
        });
        const result = await log.between('api', '2.4.0', '2.4.1');
        expect(result.ok).toBe(false);
        if (result.ok) continue;
        expect(result.reason).toMatch(/^could not (clone|fetch) /);
        expect(result.reason).not.toContain('s3cret');
      }
    } finally {
      await rm(cacheDir, { recursive: true, force: true });
    }
  });
});
