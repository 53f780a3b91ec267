/**
 * A held lock, as its holder sees it. Renewal can fail (Redis unreachable, a process starved
 * past the expiry, the key taken by another holder after it expired): the holder asks before
 * each effect that must not happen twice, and stops if the lock may be another's by now.
 */
export interface Lease {
  /** Throws LockLostError unless the lock is surely still this holder's. */
  assertHeld(): void;
}

/** A mutual exclusion across processes, with an owner and an expiry renewed while held. */
export interface Locks {
  /** Waits up to `waitMs` (default: the adapter's) for the lock; throws LockBusyError after. */
  withLock<T>(
    name: string,
    ttlMs: number,
    fn: (lease: Lease) => Promise<T>,
    options?: { waitMs?: number },
  ): Promise<T>;
}

export class LockBusyError extends Error {
  constructor(name: string, waitMs: number) {
    super(`lock ${name} is still held after ${waitMs} ms`);
    this.name = 'LockBusyError';
  }
}

/** The holder can no longer be sure the lock is its own: it must stop before its next effect. */
export class LockLostError extends Error {
  constructor(name: string, why: string) {
    super(`lock ${name} was lost while held (${why})`);
    this.name = 'LockLostError';
  }
}
