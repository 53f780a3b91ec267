import type { CommandRequest } from './command-requests.ts';

/**
 * What Greenlight says, for now, to a well-formed command whose use case is not built yet:
 * the truth, privately, with nothing changed.
 */
export function notYetAvailable(request: CommandRequest): { message: string; hint: string } {
  return {
    message: `Greenlight understood this command for ${'service' in request && request.service ? request.service : 'your services'}, but this version cannot run it yet.`,
    hint: 'Nothing was changed. `/release help` explains the workflow.',
  };
}
