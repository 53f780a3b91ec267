import { describe, expect, it } from 'vitest';
import { parseCommand } from '../../../../src/adapters/slack/command-args.ts';
import { hostileText, prng } from '../../../support/hostile-input.ts';

describe('parseCommand under hostile input', () => {
  it('answers 20,000 generated texts with a parse or a refusal, never an exception', () => {
    const random = prng(20261124);
    for (let i = 0; i < 20_000; i += 1) {
      const command = (['bump', 'release', 'sync', 'rollback'] as const)[i % 4] ?? 'bump';
      const text = hostileText(random);
      const result = parseCommand(command, text, ['api', 'web']);
      expect(typeof result.ok).toBe('boolean');
      if (result.ok && 'service' in result.request)
        expect(['api', 'web']).toContain(result.request.service);
      if (result.ok && result.request.kind === 'rollback')
        expect((result.request.reason ?? '').length).toBeLessThanOrEqual(500);
    }
  });
});
