import type { Answer } from './answer.ts';
import type { AppDeps } from './app-deps.ts';
import { authoriseCommand } from './authorise.ts';
import type { CommandContext, CommandRequest } from './command-requests.ts';
import { ReleaseError } from './release-error.ts';
import { requestBump, requestSync } from './use-cases/deploy-to-standby.ts';
import { releaseStatus } from './use-cases/release-status.ts';
import { requestRollback } from './use-cases/rollback.ts';
import { requestRelease } from './use-cases/start-release.ts';

/** One parsed command to one use case, after the caller is authorised for it. */
export async function dispatchCommand(
  deps: AppDeps,
  request: CommandRequest,
  context: CommandContext,
): Promise<Answer> {
  if (request.kind === 'release-help') return { message: 'See /release help.' };
  if (request.kind === 'release-status')
    return releaseStatus(deps, request.service ? { service: request.service } : {});
  await authoriseCommand(deps, request.service, context.command, context.userId);
  if (request.dryRun) {
    throw new ReleaseError(
      'not_available',
      '--dry-run is not available in this version.',
      'Nothing was done. Run the command without --dry-run.',
    );
  }
  switch (request.kind) {
    case 'bump':
      return requestBump(deps, {
        service: request.service,
        target: request.target,
        by: context.userId,
      });
    case 'release':
      return requestRelease(deps, { service: request.service, by: context.userId });
    case 'sync':
      return requestSync(deps, { service: request.service, by: context.userId });
    case 'rollback':
      return requestRollback(deps, {
        service: request.service,
        by: context.userId,
        ...(request.reason ? { reason: request.reason } : {}),
      });
  }
}
