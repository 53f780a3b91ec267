import type { KnownBlock } from '@slack/types';
import type { Answer } from '../../../app/answer.ts';
import { BUMP_LEVELS, type CommandRequest } from '../../../app/command-requests.ts';
import type { CommandName } from '../../../config/greenlight-schema.ts';
import type { ParseProblem } from '../command-args.ts';
import { context, escapeText, plain, type SlackMessage, section } from './block-kit.ts';

const USAGE: Record<CommandName, string> = {
  bump: '`/bump <service> [patch|minor|major|hotfix|X.Y.Z] [--dry-run]`: deploy the next version to STANDBY',
  release:
    '`/release <service> [--dry-run] [--justify <why>]`: release STANDBY to production · `/release status [service]` · `/release history <service> [n]` · `/release unmark <service> <version>` · `/release help`',
  sync: "`/sync <service> [--dry-run]`: bring STANDBY up to PRODUCTION's version",
  rollback:
    '`/rollback <service> [reason] [--dry-run]`: send traffic back to the previous production',
  flag: '`/flag <service> <flag> on|off|<percent>|ramp [reason] [--dry-run]`: change a feature flag (off is the kill switch; ramp walks its rollout steps in the stability window)',
};

function describeProblem(command: CommandName, problem: ParseProblem): string {
  switch (problem.code) {
    case 'missing_service':
      return `Which service? \`/${command}\` needs a service name.`;
    case 'unknown_service':
      return `There is no service called \`${escapeText(problem.given.slice(0, 40))}\`.`;
    case 'unknown_level':
      return `\`${escapeText(problem.given.slice(0, 40))}\` is neither a bump level nor a version like 2.4.1.`;
    case 'unexpected_argument':
      return `\`/${command}\` does not take \`${escapeText(problem.given.slice(0, 40))}\`.`;
    case 'bad_flag_change':
      return `\`${escapeText(problem.given.slice(0, 40)) || '(nothing)'}\` is not a flag name followed by on, off, ramp or a percentage such as 25.`;
    case 'unknown_option':
      return `\`${escapeText(problem.given.slice(0, 40))}\` is not an option; \`/${command}\` takes ${command === 'release' ? '`--dry-run` and `--justify <why>`' : '`--dry-run`'}.`;
  }
}

/** The private answer to a command Greenlight could not parse: what is wrong, then how to use it. */
export function usageAnswer(
  command: CommandName,
  problem: ParseProblem,
  services: readonly string[],
): SlackMessage {
  const what = describeProblem(command, problem);
  const serviceList = services.map((s) => `\`${s}\``).join(', ');
  const lines = [`Usage: ${USAGE[command]}`, `Services: ${serviceList}`];
  if (command === 'bump')
    lines.push(
      `Levels: ${BUMP_LEVELS.map((l) => `\`${l}\``).join(', ')}, or a version such as \`2.4.1\` (default \`patch\`)`,
    );
  const example = services[0] ?? 'api';
  lines.push(`Example: \`/${command} ${example}${command === 'bump' ? ' minor' : ''}\``);
  return {
    text: plain(`${what} Usage: ${USAGE[command]}. Services: ${services.join(', ')}`),
    blocks: [section(what), section(lines.join('\n'))],
  };
}

/** `/release help`: the workflow in a few lines. */
export function helpAnswer(services: readonly string[]): SlackMessage {
  const example = services[0] ?? 'api';
  const steps = [
    `1. \`/bump ${example} minor\`: the next version is deployed to STANDBY and health-checked. Test it there.`,
    `2. \`/release ${example}\`: checks and approval buttons; once approved, traffic switches to STANDBY.`,
    `3. \`/sync ${example}\`: the new STANDBY (old production) is brought up to production's version.`,
    `4. \`/rollback ${example} [reason]\`: traffic goes straight back to the previous production.`,
  ];
  return {
    text: `Greenlight releases in four steps: /bump, /release, /sync, /rollback; /flag changes a feature flag (off is the kill switch). Services: ${services.join(', ')}`,
    blocks: [
      section(
        '*Greenlight* moves a tested STANDBY into production, with approvals and instant rollback.',
      ),
      section(steps.join('\n')),
      context(
        `\`/flag ${example} <flag> on|off|<percent>|ramp\` changes a feature flag (off is the kill switch) · \`/release history ${example}\` lists past releases · \`/release unmark ${example} <version>\` lets a rolled-back version be released again`,
      ),
      context(
        `\`/release status [service]\` shows both slots · \`--dry-run\` shows the plan and changes nothing · services: ${services.map((s) => `\`${s}\``).join(', ')}`,
      ),
    ],
  };
}

export function describeRequest(request: CommandRequest): string {
  switch (request.kind) {
    case 'bump':
      return `/bump ${request.service} ${'level' in request.target ? request.target.level : request.target.version}`;
    case 'release':
      return `/release ${request.service}`;
    case 'release-status':
      return `/release status${request.service ? ` ${request.service}` : ''}`;
    case 'release-history':
      return `/release history ${request.service}`;
    case 'release-unmark':
      return `/release unmark ${request.service} ${request.version}`;
    case 'release-help':
      return '/release help';
    case 'sync':
      return `/sync ${request.service}`;
    case 'rollback':
      return `/rollback ${request.service}`;
    case 'flag':
      return `/flag ${request.service} ${request.flag}`;
  }
}

/** A refusal or failure the user can act on. */
export function refusalAnswer(message: string, hint: string): SlackMessage {
  return {
    text: plain(`${message} ${hint}`),
    blocks: [section(`:no_entry: ${message}`), context(hint)],
  };
}

/** Shown when something unexpected failed; details go to the log, never to Slack. */
export function apologyAnswer(request: CommandRequest): SlackMessage {
  const what = escapeText(describeRequest(request));
  return {
    text: `Sorry, ${what} failed unexpectedly. Nothing was changed; try again, and tell the Greenlight operators if it persists.`,
    blocks: [
      section(`:warning: Sorry, \`${what}\` failed unexpectedly. Nothing was changed.`),
      context(
        'Try again; if it keeps failing, the Greenlight operators can find the details in its logs.',
      ),
    ],
  };
}

/** A use case's answer, privately: what happened, details, then what to do next. */
export function answerMessage(answer: Answer): SlackMessage {
  const blocks: KnownBlock[] = [
    section(answer.message),
    ...(answer.details ?? []).map((d) => section(d)),
  ];
  if (answer.hint) blocks.push(context(answer.hint));
  return {
    text: plain(
      // One line each, as the blocks show them: joined with spaces, the parts run together.
      [answer.message, ...(answer.details ?? []), answer.hint ?? ''].join('\n').trim(),
    ).slice(0, 3000),
    blocks: blocks.slice(0, 50),
  };
}
