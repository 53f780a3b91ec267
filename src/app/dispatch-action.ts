import type { CommandName } from '../config/greenlight-schema.ts';
import {
  type ReleaseButton,
  releasePhrase,
  staleClick,
  stepOfStage,
} from '../domain/click-fence.ts';
import { ACTIVE_STATES, type Release } from '../domain/release.ts';
import type { Answer } from './answer.ts';
import { audit, type EventPorts, serviceConfig, type Uses } from './app-deps.ts';
import { authoriseCommand } from './authorise.ts';
import { auditRefusedClick } from './click-audit.ts';
import { ReleaseError } from './release-error.ts';
import { approveRelease, rejectRelease } from './use-cases/decide-release.ts';
import { approveStep, resolveInterruptedStep } from './use-cases/pre-switch-steps.ts';
import { approveRollback, requestRollback } from './use-cases/rollback.ts';
import { steerCanary } from './use-cases/steer-canary.ts';

export type { ReleaseButton } from '../domain/click-fence.ts';

/** Where a click came from and what the message showed, as Slack's payload says. */
export interface Click {
  readonly user: string;
  /** The channel of the message clicked (for the reject modal: where its button was). */
  readonly channel?: string;
  readonly teamId?: string;
  readonly enterpriseId?: string;
  /** The stage the message was drawn at (see click-fence.ts); absent on older messages. */
  readonly stage?: string;
  /** Typed by the clicker (the reject modal). */
  readonly reason?: string;
}

/** Each button is authorised like the command it stands for. */
const COMMAND_OF: Record<ReleaseButton, CommandName> = {
  approve: 'release',
  reject: 'release',
  promote: 'release',
  pause: 'release',
  resume: 'release',
  rollback: 'rollback',
  abort: 'rollback',
  approve_rollback: 'rollback',
  approve_step: 'release',
  step_completed: 'release',
  step_not_completed: 'release',
};

/** Clicks count only from the service's channel, and from the configured workspace. */
export function checkOrigin(deps: Uses<'config'>, release: Release, click: Click): void {
  const channel = serviceConfig(deps, release.service).channel;
  if (click.channel !== channel) {
    throw new ReleaseError(
      'not_allowed',
      `Buttons for ${release.service} count only in <#${channel}>.`,
      `Use the release message there, or /release status ${release.service}.`,
    );
  }
  const workspace = deps.config.workspace;
  if (
    (workspace?.teamId !== undefined && click.teamId !== workspace.teamId) ||
    (workspace?.enterpriseId !== undefined && click.enterpriseId !== workspace.enterpriseId)
  ) {
    throw new ReleaseError(
      'not_allowed',
      'Greenlight takes clicks only from its own workspace.',
      'Ask someone in that workspace to act.',
    );
  }
}

/** Reject: the requester, anyone in a role the release needs, or a listed operator. */
async function mayReject(
  deps: Uses<'config' | 'directory'>,
  release: Release,
  user: string,
): Promise<void> {
  if (user === release.requester) return;
  for (const role of release.requiredRoles) {
    if ((await deps.directory.members(deps.config.roles[role] ?? [])).includes(user)) return;
  }
  const operators = serviceConfig(deps, release.service).operators;
  const listed = Array.isArray(operators) ? operators : operators?.release;
  if (listed && (await deps.directory.members(listed)).includes(user)) return;
  throw new ReleaseError(
    'not_allowed',
    `Only the requester (<@${release.requester}>), an approver (${release.requiredRoles.join(', ')}) or an operator can reject ${release.service} ${release.version}.`,
    'Ask one of them.',
  );
}

/** A newer release of the service that is still under way, named for a stale click's answer. */
async function whatNow(deps: Uses<'store'>, release: Release): Promise<string> {
  const state = await deps.store.getService(release.service).catch(() => null);
  const latestId = state?.lastReleaseId;
  if (!latestId || latestId === release.id) return '';
  const latest = await deps.store.getRelease(latestId).catch(() => null);
  if (latest === null || !ACTIVE_STATES.includes(latest.state)) return '';
  return `${latest.service} ${latest.version} ${releasePhrase(latest)}: use its own message. `;
}

/** Origin, stage and clicker: everything a click must pass before it may act. */
export async function checkClick(
  deps: Uses<'config' | 'directory' | 'store'>,
  button: ReleaseButton,
  release: Release,
  click: Click,
): Promise<void> {
  checkOrigin(deps, release, click);
  const stale = staleClick(button, click.stage, release);
  if (stale !== undefined) {
    throw new ReleaseError(
      'stale',
      stale,
      `Nothing was changed. ${await whatNow(deps, release)}See /release status ${release.service}.`,
    );
  }
  await authoriseCommand(deps, release.service, COMMAND_OF[button], click.user);
  if (button === 'reject') await mayReject(deps, release, click.user);
}

async function act(
  deps: Uses<EventPorts | 'comms' | 'directory'>,
  button: ReleaseButton,
  release: Release,
  click: Click,
) {
  const releaseId = release.id;
  const user = click.user;
  await checkClick(deps, button, release, click);
  switch (button) {
    case 'approve':
      return approveRelease(deps, { releaseId, user });
    case 'reject':
      return rejectRelease(deps, {
        releaseId,
        user,
        ...(click.reason ? { reason: click.reason } : {}),
      });
    case 'rollback':
    case 'abort':
      return requestRollback(deps, {
        service: release.service,
        releaseId,
        by: user,
        defaultReason:
          button === 'abort' ? 'canary aborted from Slack' : 'Rollback button in Slack',
      });
    case 'promote':
    case 'pause':
    case 'resume':
      return steerCanary(deps, {
        releaseId,
        user,
        action: button,
        ...(stepOfStage(click.stage) !== undefined ? { fromStep: stepOfStage(click.stage) } : {}),
      });
    case 'approve_rollback':
      return approveRollback(deps, { releaseId, user });
    case 'approve_step':
      return approveStep(deps, { releaseId, user });
    case 'step_completed':
    case 'step_not_completed':
      return resolveInterruptedStep(deps, {
        releaseId,
        user,
        completed: button === 'step_completed',
      });
  }
}

/** A button click to one use case, after its origin, stage and clicker are checked; audited. */
export async function dispatchAction(
  deps: Uses<EventPorts | 'comms' | 'directory'>,
  button: ReleaseButton,
  releaseId: string,
  click: Click,
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
    const answer = await act(deps, button, release, click);
    await audit(deps, {
      who: click.user,
      what: `clicked ${button}`,
      service: release.service,
      releaseId,
      after: { answer: answer.message },
    });
    return answer;
  } catch (error) {
    await auditRefusedClick(
      deps,
      { who: click.user, what: `clicked ${button}`, releaseId, release },
      error,
    );
    throw error;
  }
}
