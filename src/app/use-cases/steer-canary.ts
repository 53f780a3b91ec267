import type { Release } from '../../domain/release.ts';
import type { Answer } from '../answer.ts';
import type { EventPorts, Uses } from '../app-deps.ts';
import { closedFor } from '../release-calendar.ts';
import { ReleaseError } from '../release-error.ts';
import { runEvent } from '../release-runner.ts';

/** Who may steer a canary: anyone holding one of the roles the release needed. */
async function requireApprover(
  deps: Uses<'config' | 'directory'>,
  release: Release,
  user: string,
  allowRequester: boolean,
): Promise<void> {
  if (!allowRequester && user === release.requester) {
    throw new ReleaseError(
      'not_allowed',
      'You requested this release; an approver must promote it.',
      'Ask one of its approvers.',
    );
  }
  for (const role of release.requiredRoles) {
    if ((await deps.directory.members(deps.config.roles[role] ?? [])).includes(user)) return;
  }
  if (allowRequester && user === release.requester) return;
  throw new ReleaseError(
    'not_allowed',
    `Only approvers (${release.requiredRoles.join(', ')}) can steer this canary.`,
    'Ask one of them, or /rollback to abort.',
  );
}

/** The canary buttons: Promote, Pause, Resume. Abort is a rollback. */
export async function steerCanary(
  deps: Uses<EventPorts | 'comms' | 'directory'>,
  request: {
    releaseId: string;
    user: string;
    action: 'promote' | 'pause' | 'resume';
    /** The canary step the clicked message showed: Promote moves on from exactly that one. */
    fromStep?: number;
  },
): Promise<Answer> {
  const release = await deps.store.getRelease(request.releaseId);
  if (release === null)
    throw new ReleaseError(
      'not_available',
      'This release no longer exists.',
      'See /release status.',
    );
  await requireApprover(deps, release, request.user, request.action !== 'promote');
  const closed = request.action === 'promote' ? closedFor(deps, release) : undefined;
  if (closed !== undefined) {
    throw new ReleaseError(
      'frozen',
      `${closed}: the canary stays where it is.`,
      'Promote once the calendar opens, or Abort to roll back.',
    );
  }
  const event =
    request.action === 'promote'
      ? ({
          type: 'promote',
          user: request.user,
          ...(request.fromStep !== undefined ? { fromStep: request.fromStep } : {}),
        } as const)
      : request.action === 'pause'
        ? ({ type: 'pause', user: request.user, reason: 'paused from Slack' } as const)
        : ({ type: 'resume', user: request.user } as const);
  const applied = await runEvent(deps, release.id, event);
  const r = applied.release;
  if (request.action === 'promote') {
    return {
      message: `Promoting ${r.service} ${r.version} to ${r.canary?.steps[r.canary?.stepIndex ?? 0] ?? 100} %.`,
    };
  }
  return request.action === 'pause'
    ? {
        message: `Paused ${r.service} ${r.version}: traffic stays where it is.`,
        hint: 'Resume or Abort on the release message.',
      }
    : { message: `Resumed ${r.service} ${r.version}.` };
}
