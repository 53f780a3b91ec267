import { missingRoles } from '../../domain/release.ts';
import type { Answer } from '../answer.ts';
import type { AppDeps } from '../app-deps.ts';
import { ReleaseError } from '../release-error.ts';
import { applyReleaseEvent } from '../release-events.ts';

/** The roles, among those the release still needs, that `user` holds (groups resolved). */
async function rolesOf(deps: AppDeps, user: string, roles: readonly string[]): Promise<string[]> {
  const held: string[] = [];
  for (const role of roles) {
    const members = await deps.directory.members(deps.config.roles[role] ?? []);
    if (members.includes(user)) held.push(role);
  }
  return held;
}

/** An Approve click: recorded against a role the clicker holds; the last one starts the switch. */
export async function approveRelease(
  deps: AppDeps,
  request: { releaseId: string; user: string },
): Promise<Answer> {
  const release = await deps.store.getRelease(request.releaseId);
  if (release === null)
    throw new ReleaseError(
      'not_available',
      'This release no longer exists.',
      'See /release status.',
    );
  const roles =
    release.state === 'awaiting_approval'
      ? await rolesOf(deps, request.user, missingRoles(release))
      : [];
  const applied = await applyReleaseEvent(deps, request.releaseId, {
    type: 'approve',
    user: request.user,
    roles,
  });
  await deps.notifier.releaseChanged(applied.release, applied.state);
  const approval = applied.release.approvals.at(-1);
  if (applied.effects.some((e) => e.type === 'switch_traffic')) {
    await deps.scheduler.enqueue({ step: 'switch', releaseId: applied.release.id });
    return {
      message: `You approved as ${approval?.role}. All approvals are in: switching ${applied.release.service} to ${applied.release.toSlot} now.`,
    };
  }
  return {
    message: `You approved as ${approval?.role}.`,
    hint: `Still needed: ${missingRoles(applied.release).join(' and ')}.`,
  };
}

/** A Reject click: ends the release; the service is free again and traffic never moved. */
export async function rejectRelease(
  deps: AppDeps,
  request: { releaseId: string; user: string; reason?: string },
): Promise<Answer> {
  const applied = await applyReleaseEvent(deps, request.releaseId, {
    type: 'reject',
    user: request.user,
    ...(request.reason ? { reason: request.reason } : {}),
  });
  await deps.notifier.releaseChanged(applied.release, applied.state);
  const r = applied.release;
  return {
    message: `You rejected ${r.service} ${r.version}. PRODUCTION stays on ${r.fromSlot} (${r.fromVersion}).`,
    hint: `STANDBY keeps ${r.version}; /bump ${r.service} deploys another version.`,
  };
}
