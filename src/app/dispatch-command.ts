import type { Answer } from './answer.ts';
import { type AppDeps, audit, type EventPorts, type Uses } from './app-deps.ts';
import { authoriseCommand } from './authorise.ts';
import type { CommandContext, CommandRequest } from './command-requests.ts';
import { planCommand } from './plan-command.ts';
import { ReleaseError } from './release-error.ts';
import { requestBump, requestSync } from './use-cases/deploy-to-standby.ts';
import { releaseHistory, unmarkFaulty } from './use-cases/release-history.ts';
import { releaseStatus } from './use-cases/release-status.ts';
import { requestRollback } from './use-cases/rollback.ts';
import { setFlag } from './use-cases/set-flag.ts';
import { requestRelease } from './use-cases/start-release.ts';

async function run(
  deps: AppDeps,
  request: CommandRequest,
  context: CommandContext,
): Promise<Answer> {
  const by = context.userId;
  switch (request.kind) {
    case 'release-help':
      return { message: 'See /release help.' };
    case 'release-status':
      return releaseStatus(deps, request.service ? { service: request.service } : {});
    case 'release-history':
      return releaseHistory(deps, request);
    case 'release-unmark':
      await authoriseCommand(deps, request.service, 'release', by);
      return unmarkFaulty(deps, { service: request.service, version: request.version, by });
  }
  await authoriseCommand(deps, request.service, context.command, by);
  if (request.kind === 'flag') return setFlag(deps, { ...request, by });
  if (request.dryRun) return planCommand(deps, request, by, (d) => perform(d, request, by));
  return perform(deps, request, by);
}

/** The four commands that change something: what a dry run rehearses, and what runs for real. */
function perform(
  deps: Uses<EventPorts | 'changes' | 'comms' | 'faulty' | 'gates' | 'ids'>,
  request: Exclude<
    CommandRequest,
    { kind: 'release-help' | 'release-status' | 'release-history' | 'release-unmark' | 'flag' }
  >,
  by: string,
): Promise<Answer> {
  switch (request.kind) {
    case 'bump':
      return requestBump(deps, { service: request.service, target: request.target, by });
    case 'release':
      return requestRelease(deps, {
        service: request.service,
        by,
        ...(request.justification ? { justification: request.justification } : {}),
      });
    case 'sync':
      return requestSync(deps, { service: request.service, by });
    case 'rollback':
      return requestRollback(deps, {
        service: request.service,
        by,
        ...(request.reason ? { reason: request.reason } : {}),
      });
  }
}

/** One parsed command to one use case, after the caller is authorised; every outcome is audited. */
export async function dispatchCommand(
  deps: AppDeps,
  request: CommandRequest,
  context: CommandContext,
): Promise<Answer> {
  const what = `/${context.command} ${context.text}`.trim().slice(0, 600);
  const service = 'service' in request ? request.service : undefined;
  try {
    const answer = await run(deps, request, context);
    await audit(deps, {
      who: context.userId,
      what,
      ...(service ? { service } : {}),
      after: { answer: answer.message },
    });
    return answer;
  } catch (error) {
    const outcome = error instanceof ReleaseError ? `refused: ${error.code}` : 'failed';
    await audit(deps, {
      who: context.userId,
      what,
      ...(service ? { service } : {}),
      after: { outcome, message: (error as Error).message },
    });
    throw error;
  }
}
