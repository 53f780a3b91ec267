import { describe, expect, it } from 'vitest';
import { parseCommand } from '../../../../src/adapters/slack/command-args.ts';

const services = ['api', 'web'];

describe('parseCommand', () => {
  it.each([
    ['bump', 'api', { kind: 'bump', service: 'api', target: { level: 'patch' }, dryRun: false }],
    [
      'bump',
      'api minor',
      { kind: 'bump', service: 'api', target: { level: 'minor' }, dryRun: false },
    ],
    [
      'bump',
      '  API   Hotfix ',
      { kind: 'bump', service: 'api', target: { level: 'hotfix' }, dryRun: false },
    ],
    [
      'bump',
      'api 2.5.0',
      { kind: 'bump', service: 'api', target: { version: '2.5.0' }, dryRun: false },
    ],
    [
      'bump',
      'api v3.0.0-rc.1',
      { kind: 'bump', service: 'api', target: { version: '3.0.0-rc.1' }, dryRun: false },
    ],
    [
      'bump',
      '--dry-run api major',
      { kind: 'bump', service: 'api', target: { level: 'major' }, dryRun: true },
    ],
    ['release', 'web', { kind: 'release', service: 'web', dryRun: false }],
    ['release', 'web --dry-run', { kind: 'release', service: 'web', dryRun: true }],
    ['release', 'status', { kind: 'release-status' }],
    ['release', 'status api', { kind: 'release-status', service: 'api' }],
    ['release', 'help', { kind: 'release-help' }],
    ['sync', 'api', { kind: 'sync', service: 'api', dryRun: false }],
    ['rollback', 'api', { kind: 'rollback', service: 'api', dryRun: false }],
    [
      'rollback',
      'api error rate 3% --see the dashboard; rm -rf /',
      {
        kind: 'rollback',
        service: 'api',
        reason: 'error rate 3% --see the dashboard; rm -rf /',
        dryRun: false,
      },
    ],
    [
      'rollback',
      'api --dry-run checkout broken',
      { kind: 'rollback', service: 'api', reason: 'checkout broken', dryRun: true },
    ],
  ] as const)('/%s %j', (command, text, request) => {
    expect(parseCommand(command, text, services)).toEqual({ ok: true, request });
  });

  it.each([
    ['bump', '', { code: 'missing_service' }],
    ['bump', 'payments', { code: 'unknown_service', given: 'payments' }],
    ['bump', 'api huge', { code: 'unknown_level', given: 'huge' }],
    ['bump', 'api 2.5', { code: 'unknown_level', given: '2.5' }],
    ['bump', 'api minor now', { code: 'unexpected_argument', given: 'now' }],
    ['bump', 'api --force', { code: 'unknown_option', given: '--force' }],
    ['release', '', { code: 'missing_service' }],
    ['release', 'status payments', { code: 'unknown_service', given: 'payments' }],
    ['release', 'api now', { code: 'unexpected_argument', given: 'now' }],
    ['sync', '$(reboot)', { code: 'unknown_service', given: '$(reboot)' }],
    ['rollback', '--yes', { code: 'unknown_option', given: '--yes' }],
  ] as const)('refuses /%s %j', (command, text, problem) => {
    expect(parseCommand(command, text, services)).toEqual({ ok: false, problem });
  });

  it('cuts a very long rollback reason instead of refusing it', () => {
    const result = parseCommand('rollback', `api ${'x'.repeat(5000)}`, services);
    expect(result.ok && result.request.kind === 'rollback' && result.request.reason?.length).toBe(
      500,
    );
  });
});

describe('the answer to an unknown option', () => {
  it('names the options the command takes: /release also takes --justify', async () => {
    const { usageAnswer } = await import(
      '../../../../src/adapters/slack/blocks/private-answers.ts'
    );
    const release = usageAnswer('release', { code: 'unknown_option', given: '--force' }, ['api']);
    expect(release.text).toContain(
      '--force is not an option; /release takes --dry-run and --justify <why>',
    );
    const bump = usageAnswer('bump', { code: 'unknown_option', given: '--force' }, ['api']);
    expect(bump.text).toContain('/bump takes --dry-run.');
    expect(bump.text).not.toContain('--justify');
  });
});
