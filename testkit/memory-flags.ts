import { type FlagProvider, FlagProviderError, type FlagRef } from '../src/app/flag-ports.ts';

/**
 * A flag provider in memory, for unit tests of the flag use cases: flags by name, every call
 * recorded as `<what> <flag>`. `down` names flags whose calls fail as an unreachable provider
 * would; `refused` names flags whose calls fail as a token without rights would; `hang` names
 * flags whose calls never answer.
 */
export function memoryFlags(
  options: { down?: string[]; refused?: string[]; hang?: string[] } = {},
) {
  const state = new Map<string, { enabled: boolean; percent: number }>();
  const calls: string[] = [];
  const act = async (flag: FlagRef, what: string) => {
    calls.push(`${what} ${flag.name}`);
    if (options.hang?.includes(flag.name)) await new Promise(() => undefined);
    if (options.down?.includes(flag.name))
      throw new FlagProviderError('unreachable', 'Unleash is unreachable (ECONNREFUSED)');
    if (options.refused?.includes(flag.name))
      throw new FlagProviderError('refused', 'Unleash refused the token (HTTP 403)');
  };
  const provider: FlagProvider = {
    enable: async (flag) => {
      await act(flag, 'enable');
      state.set(flag.name, { enabled: true, percent: state.get(flag.name)?.percent ?? 100 });
    },
    disable: async (flag) => {
      await act(flag, 'disable');
      state.set(flag.name, { enabled: false, percent: state.get(flag.name)?.percent ?? 100 });
    },
    setPercent: async (flag, percent) => {
      await act(flag, 'percent');
      state.set(flag.name, { enabled: state.get(flag.name)?.enabled ?? false, percent });
    },
    read: async (flag) => state.get(flag.name) ?? { enabled: false, percent: 100 },
  };
  return { provider, state, calls };
}
