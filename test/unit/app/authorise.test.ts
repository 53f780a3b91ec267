import { describe, expect, it } from 'vitest';
import { authoriseCommand } from '../../../src/app/authorise.ts';
import { ReleaseError } from '../../../src/app/release-error.ts';
import { parseConfig } from '../../../src/config/load-config.ts';
import { apiConfig } from '../../../testkit/api-config.ts';

const config = (operators: string) => parseConfig(apiConfig({ api: operators }));

// User ids stand for themselves here; groups are resolved by the real directory elsewhere.
const directory = { members: async (ids: readonly string[]) => [...ids] };

async function allowed(operators: string, command: 'flag' | 'bump', user: string) {
  const deps = { config: config(operators), directory };
  return authoriseCommand(deps, 'api', command, user).then(
    () => true,
    (error: unknown) => {
      if (error instanceof ReleaseError && error.code === 'not_allowed') return false;
      throw error;
    },
  );
}

describe('operators', () => {
  it('lets anyone run /flag when the service lists no operators at all', async () => {
    expect(await allowed('', 'flag', 'U0ANYONE')).toBe(true);
  });

  it('gives /flag to the people of the other lists when per-command operators leave it out', async () => {
    const operators = '    operators: { release: [U0DEV1], rollback: [U0LEAD] }\n';
    expect(await allowed(operators, 'flag', 'U0DEV1')).toBe(true);
    expect(await allowed(operators, 'flag', 'U0LEAD')).toBe(true);
    expect(await allowed(operators, 'flag', 'U0ANYONE')).toBe(false);
    // A command left out of the lists stays open, as it always was.
    expect(await allowed(operators, 'bump', 'U0ANYONE')).toBe(true);
  });

  it('uses the flag list when there is one', async () => {
    const operators = '    operators: { release: [U0DEV1], flag: [U0SEC] }\n';
    expect(await allowed(operators, 'flag', 'U0SEC')).toBe(true);
    expect(await allowed(operators, 'flag', 'U0DEV1')).toBe(false);
  });
});
