import { LockBusyError, type Locks } from '../src/app/lock-ports.ts';

/**
 * Mutual exclusion as Redis locks give it, in memory: a held name makes a second holder wait, or
 * refuses it at once when it asked not to wait (`waitMs: 0`, as the control loop does).
 */
export function exclusiveLocks(): Locks {
  const held = new Set<string>();
  return {
    withLock: async (name, _ttl, fn, options) => {
      while (held.has(name)) {
        if (options?.waitMs === 0) throw new LockBusyError(name, 0);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      held.add(name);
      try {
        return await fn({ assertHeld: () => undefined });
      } finally {
        held.delete(name);
      }
    },
  };
}
