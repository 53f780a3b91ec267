import { releaseDeadline } from '../../domain/deadlines.ts';
import { awaitsApproval, currentStep } from '../../domain/pre-switch-steps.ts';
import type { Release } from '../../domain/release.ts';
import { missingRoles } from '../../domain/release.ts';
import type { Answer } from '../answer.ts';
import { type EventPorts, serviceConfig, type Uses } from '../app-deps.ts';
import { deadlineRules } from '../deadline-rules.ts';
import { closedFor } from '../release-calendar.ts';
import { ReleaseError } from '../release-error.ts';
import { runEvent } from '../release-runner.ts';

/** The roles, among those the release still needs, that `user` holds (groups resolved). */
async function rolesOf(
  deps: Uses<'config' | 'directory'>,
  user: string,
  roles: readonly string[],
): Promise<string[]> {
  const held: string[] = [];
  for (const role of roles) {
    const members = await deps.directory.members(deps.config.roles[role] ?? []);
    if (members.includes(user)) held.push(role);
  }
  return held;
}

/**
 * What STANDBY must still be for approvals to hold: healthy and reporting the released version.
 * Returns what changed, or undefined when it is as approved.
 */
export async function standbyChange(
  deps: Uses<'probe'>,
  release: Release,
): Promise<string | undefined> {
  const health = await deps.probe.health(release.service, release.toSlot);
  if (!health.ok) return `STANDBY (${release.toSlot}) is unhealthy: ${health.reason}`;
  const reported = await deps.probe.version(release.service, release.toSlot);
  if (!reported.ok)
    return `STANDBY (${release.toSlot}) does not report its version: ${reported.reason}`;
  if (reported.version !== release.version) {
    return `STANDBY (${release.toSlot}) now reports ${reported.version}, not ${release.version}`;
  }
  return undefined;
}

/** Drops approvals past the service's TTL, then voids all of them if STANDBY changed. */
async function refreshApprovals(
  deps: Uses<EventPorts | 'comms'>,
  release: Release,
): Promise<Release> {
  const ttlMinutes = serviceConfig(deps, release.service).approvalTtlMinutes;
  const olderThan = new Date(deps.clock.now().getTime() - ttlMinutes * 60_000).toISOString();
  let current = release;
  const expired = await runEvent(deps, release.id, { type: 'expire_approvals', olderThan });
  if (expired.release.revision !== release.revision) current = expired.release;
  const change = await standbyChange(deps, current);
  if (change === undefined) return current;
  if (current.approvals.length > 0) {
    await runEvent(deps, current.id, { type: 'void_approvals', reason: change });
  }
  throw new ReleaseError(
    'not_available',
    `${change}, so it cannot be approved${current.approvals.length > 0 ? ' and earlier approvals were voided' : ''}.`,
    `Fix STANDBY (or /rollback ${release.service} to cancel), then approve again.`,
  );
}

/** An Approve click: recorded against a role the clicker holds; the last one starts the switch. */
export async function approveRelease(
  deps: Uses<EventPorts | 'comms' | 'directory'>,
  request: { releaseId: string; user: string },
): Promise<Answer> {
  const stored = await deps.store.getRelease(request.releaseId);
  if (stored === null)
    throw new ReleaseError(
      'not_available',
      'This release no longer exists.',
      'See /release status.',
    );
  // Past its deadline a pending release is over, whether or not the sweeper got to it yet.
  const deadline =
    stored.state === 'awaiting_approval'
      ? releaseDeadline(stored, deadlineRules(serviceConfig(deps, stored.service)))
      : undefined;
  if (deadline !== undefined && deps.clock.now().getTime() >= deadline.at) {
    await runEvent(deps, stored.id, { type: 'expire', reason: deadline.reason });
    throw new ReleaseError(
      'not_available',
      `${stored.service} ${stored.version} ${deadline.reason}.`,
      `Nothing moved. Request it again: /release ${stored.service}`,
    );
  }
  const release =
    stored.state === 'awaiting_approval' ? await refreshApprovals(deps, stored) : stored;
  const closed = release.state === 'awaiting_approval' ? closedFor(deps, release) : undefined;
  if (closed !== undefined) {
    throw new ReleaseError(
      'frozen',
      `${closed}: an approval now would move traffic while the calendar is closed.`,
      `The release stays pending until it expires; approve once the calendar opens, or /rollback ${release.service} to cancel it.`,
    );
  }
  const roles =
    release.state === 'awaiting_approval'
      ? await rolesOf(deps, request.user, missingRoles(release))
      : [];
  const applied = await runEvent(deps, request.releaseId, {
    type: 'approve',
    user: request.user,
    roles,
  });
  const approval = applied.release.approvals.at(-1);
  if (applied.release.state === 'running_steps') {
    const step = currentStep(applied.release);
    return {
      message: `You approved as ${approval?.role}. All approvals are in: ${applied.release.service} runs its steps before the switch first.`,
      hint:
        step && awaitsApproval(step)
          ? `${step.name} cannot be undone and needs its own approval from ${step.approverRole} (not the requester).`
          : `Traffic moves once ${step?.name ?? 'every step'} has finished.`,
    };
  }
  if (applied.effects.some((e) => e.type === 'switch_traffic')) {
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
  deps: Uses<EventPorts | 'comms'>,
  request: { releaseId: string; user: string; reason?: string },
): Promise<Answer> {
  const applied = await runEvent(deps, request.releaseId, {
    type: 'reject',
    user: request.user,
    ...(request.reason ? { reason: request.reason } : {}),
  });
  const r = applied.release;
  return {
    message: `You rejected ${r.service} ${r.version}. PRODUCTION stays on ${r.fromSlot} (${r.fromVersion}).`,
    hint: `STANDBY keeps ${r.version}; /bump ${r.service} deploys another version.`,
  };
}
