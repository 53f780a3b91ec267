import { describe, expect, it } from 'vitest';
import { displayRepo, parseGitLog } from '../../../../src/adapters/git/git-change-log.ts';

describe('parseGitLog', () => {
  it('splits records and fields, keeping multi-line bodies', () => {
    const text =
      'aaa\x1fAnn\x1ffeat: x\x1fline 1\n\nBREAKING CHANGE: y\n\x1e\nbbb\x1fBob\x1ffix: z\x1f\x1e\n';
    expect(parseGitLog(text)).toEqual([
      { sha: 'aaa', author: 'Ann', subject: 'feat: x', body: 'line 1\n\nBREAKING CHANGE: y' },
      { sha: 'bbb', author: 'Bob', subject: 'fix: z', body: '' },
    ]);
  });
});

describe('displayRepo', () => {
  it('never shows credentials in a repository URL', () => {
    expect(displayRepo('https://bot:s3cret@github.com/acme/api.git')).toBe(
      'https://github.com/acme/api.git',
    );
    expect(displayRepo('git@github.com:acme/api.git')).toBe('git@github.com:acme/api.git');
    expect(displayRepo('/srv/git/api')).toBe('/srv/git/api');
  });
});
