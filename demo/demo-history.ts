/**
 * A small real git repository for the demo service, so the approval card and the thread show
 * release notes as they would for a real one: conventional and plain commits by several people,
 * a security fix, a breaking change, and a tag on every version a `/bump` of 2.4.0 can reach.
 */
import { execFileSync } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';

const PEOPLE: Record<string, string> = {
  dana: 'Dana Dev <dana@example.com>',
  devon: 'Devon Ops <devon@example.com>',
  sasha: 'Sasha Sec <sasha@example.com>',
  lee: 'Lee Lead <lee@example.com>',
};

/** Versions in history order, each with the commits that lead up to its tag. */
const HISTORY: readonly { tag: string; commits: readonly [string, string][] }[] = [
  { tag: 'v2.4.0', commits: [['dana', 'feat: release history in /release status (#101)']] },
  {
    tag: 'v2.4.1',
    commits: [
      ['devon', 'fix: time-outs on slow health checks (#102)'],
      ['sasha', 'fix(security): escape user names in the audit export (#103)'],
      ['dana', 'Tidy the logging'],
    ],
  },
  {
    tag: 'v2.5.0',
    commits: [
      ['dana', 'feat(api): export releases as CSV (#104)'],
      ['lee', 'perf: cache the service list (#105)'],
      ['devon', 'fix: a crash on an empty history (#106)'],
      ['dana', 'docs: explain the export (#107)'],
    ],
  },
  {
    tag: 'v3.0.0',
    commits: [
      ['lee', 'feat!: drop the v1 endpoints (#108)\n\nBREAKING CHANGE: /v1 answers 410 Gone.'],
      ['dana', 'chore: bump dependencies (#109)'],
    ],
  },
];

/** Builds the repository in `dir` (created) and returns its path. */
export async function buildDemoHistory(parent: string): Promise<string> {
  const dir = join(parent, 'api-repo');
  await mkdir(dir, { recursive: true });
  const git = (args: string[], env: Record<string, string> = {}) =>
    execFileSync('git', args, {
      cwd: dir,
      env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', HOME: dir, ...env },
      stdio: 'pipe',
    });
  git(['init', '--quiet', '--initial-branch=main']);
  let day = 1;
  for (const { tag, commits } of HISTORY) {
    for (const [who, message] of commits) {
      const [name, email] = (PEOPLE[who] ?? who).split(' <');
      const date = `2026-10-${String(day++).padStart(2, '0')}T10:00:00Z`;
      git(['commit', '--quiet', '--allow-empty', '-m', message], {
        GIT_AUTHOR_NAME: name ?? who,
        GIT_AUTHOR_EMAIL: (email ?? '').replace('>', ''),
        GIT_COMMITTER_NAME: name ?? who,
        GIT_COMMITTER_EMAIL: (email ?? '').replace('>', ''),
        GIT_AUTHOR_DATE: date,
        GIT_COMMITTER_DATE: date,
      });
    }
    git(['tag', tag]);
  }
  return dir;
}
