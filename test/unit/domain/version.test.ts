import { describe, expect, it } from 'vitest';
import { nextVersion, releaseTypeOf } from '../../../src/domain/version.ts';

describe('nextVersion', () => {
  it.each([
    ['2.4.0', { level: 'patch' }, '2.4.1', 'patch'],
    ['2.4.0', { level: 'minor' }, '2.5.0', 'minor'],
    ['2.4.0', { level: 'major' }, '3.0.0', 'major'],
    ['2.4.0', { level: 'hotfix' }, '2.4.1', 'hotfix'],
    ['2.4.0', { version: '2.4.7' }, '2.4.7', 'patch'],
    ['2.4.0', { version: '2.6.0' }, '2.6.0', 'minor'],
    ['2.4.0', { version: '3.0.0-rc.1' }, '3.0.0-rc.1', 'major'],
  ] as const)('%s + %j -> %s (%s)', (from, target, version, type) => {
    expect(nextVersion(from, target)).toEqual({ ok: true, version, type });
  });

  it.each(['2.4.0', '2.3.9', '1.0.0'])('refuses %s, which is not newer than 2.4.0', (given) => {
    expect(nextVersion('2.4.0', { version: given })).toEqual({
      ok: false,
      reason: 'not_newer',
      current: '2.4.0',
      given,
    });
  });

  it('types a release by the change it makes', () => {
    expect(releaseTypeOf('1.2.3', '1.2.4')).toBe('patch');
    expect(releaseTypeOf('1.2.3', '1.3.0')).toBe('minor');
    expect(releaseTypeOf('1.2.3', '2.0.0')).toBe('major');
  });
});
