import type { Answer } from './answer.ts';
import { type AppDeps, audit } from './app-deps.ts';
import { authoriseCommand } from './authorise.ts';
import { ReleaseError } from './release-error.ts';
import { approveRelease, rejectRelease } from './use-cases/decide-release.ts';
import { steerCanary } from './use-cases/progressive.ts';
import { approveRollback, requestRollback } from './use-cases/rollback.ts';

export type ReleaseButton =
  | 'approve'
  | 'reject'
  | 'rollback'
  | 'approve_rollback'
  | 'promote'
  | 'pause'
  | 'resume'
  | 'abort';

/** A button click to one use case; every click and its outcome is audited. */
export async function dispatchAction(
  deps: AppDeps,
  button: ReleaseButton,
  releaseId: string,
  user: string,
  reason?: string,
): Promise<Answer> {
  const release = await deps.store.getRelease(releaseId);
  try {
    if (release === null) {
      throw new ReleaseError(
        'not_available',
        'This release no longer exists.',
        'See /release status.',
      );
    }
    let answer: Answer;
    switch (button) {
      case 'approve':
        answer = await approveRelease(deps, { releaseId, user });
        break;
      case 'reject':
        answer = await rejectRelease(deps, { releaseId, user, ...(reason ? { reason } : {}) });
        break;
      case 'rollback':
      case 'abort':
        await authoriseCommand(deps, release.service, 'rollback', user);
        answer = await requestRollback(deps, {
          service: release.service,
          by: user,
          reason:
            reason ??
            (button === 'abort' ? 'canary aborted from Slack' : 'Rollback button in Slack'),
        });
        break;
      case 'promote':
      case 'pause':
      case 'resume':
        answer = await steerCanary(deps, { releaseId, user, action: button });
        break;
      case 'approve_rollback':
        answer = await approveRollback(deps, { releaseId, user });
        break;
    }
    await audit(deps, {
      who: user,
      what: `clicked ${button}`,
      service: release.service,
      releaseId,
      after: { answer: answer.message },
    });
    return answer;
  } catch (error) {
    await audit(deps, {
      who: user,
      what: `clicked ${button}`,
      ...(release ? { service: release.service } : {}),
      releaseId,
      after: {
        outcome: error instanceof ReleaseError ? `refused: ${error.code}` : 'failed',
        message: (error as Error).message,
      },
    });
    throw error;
  }
}
