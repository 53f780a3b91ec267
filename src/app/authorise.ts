import type { CommandName } from '../config/greenlight-schema.ts';
import type { Uses } from './app-deps.ts';
import { ReleaseError } from './release-error.ts';

/**
 * Checks `operators` of greenlight.yml: a list (every command) or one list per command. A service
 * without `operators` lets anyone in its channel run its commands. A per-command list without
 * `flag` gives /flag to everyone listed for any command: a flag changes production as much as a
 * release does, so it never falls open because a newer command went unlisted.
 */
export async function authoriseCommand(
  deps: Uses<'config' | 'directory'>,
  service: string,
  command: CommandName,
  user: string,
): Promise<void> {
  const operators = deps.config.services[service]?.operators;
  if (operators === undefined) return;
  const principals = Array.isArray(operators)
    ? operators
    : (operators[command] ??
      (command === 'flag' ? Object.values(operators).flatMap((list) => list ?? []) : undefined));
  if (principals === undefined) return;
  const members = await deps.directory.members(principals);
  if (!members.includes(user)) {
    throw new ReleaseError(
      'not_allowed',
      `You are not allowed to run /${command} on ${service}.`,
      `Ask one of its operators (${principals.map((p) => (p.startsWith('S') ? `<!subteam^${p}>` : `<@${p}>`)).join(', ')}) to run it.`,
    );
  }
}
