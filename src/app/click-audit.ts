import type { Release } from '../domain/release.ts';
import { audit, type Uses } from './app-deps.ts';
import { ReleaseError } from './release-error.ts';

/** A click that was refused or failed goes into the audit trail too, with why, then is rethrown by the caller. */
export async function auditRefusedClick(
  deps: Uses<'audit' | 'clock' | 'log'>,
  click: { who: string; what: string; releaseId: string; release: Release | null | undefined },
  error: unknown,
): Promise<void> {
  await audit(deps, {
    who: click.who,
    what: click.what,
    ...(click.release ? { service: click.release.service } : {}),
    releaseId: click.releaseId,
    after: {
      outcome: error instanceof ReleaseError ? `refused: ${error.code}` : 'failed',
      message: (error as Error).message,
    },
  });
}
