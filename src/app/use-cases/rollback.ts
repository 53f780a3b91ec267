import { awaitsWord, compensationText, dataTouched } from '../../domain/pre-switch-steps.ts';
import type { Release } from '../../domain/release.ts';
import type { ReleaseEvent } from '../../domain/release-machine.ts';
import { releaseTypeRule } from '../../domain/release-policy.ts';
import type { ServiceState } from '../../domain/service-state.ts';
import type { Answer } from '../answer.ts';
import { type EventPorts, serviceConfig, type Uses } from '../app-deps.ts';
import { ReleaseError } from '../release-error.ts';
import { type AppliedEvent, runEvent } from '../release-runner.ts';
import { busyError, currentState } from '../service-access.ts';

const ENDED_MESSAGES: Partial<Record<Release['state'], string>> = {
  rejected: 'was rejected, so traffic never moved',
  cancelled: 'was cancelled before traffic moved',
  failed: 'failed and PRODUCTION was restored',
  rolled_back: 'was already rolled back',
};

/**
 * `/rollback`: traffic straight back to the previous PRODUCTION. The emergency path never waits
 * behind routine work: it preempts a release still in progress (a pending approval is cancelled;
 * a switch under way is undone by the rollback step) and a running /bump or /sync (its deploy is
 * killed, and the last good version is redeployed if that slot was being changed).
 */
export async function requestRollback(
  deps: Uses<EventPorts | 'comms'>,
  request: {
    service: string;
    by: string;
    /** Typed by the person: outside the rollback window nothing else will do. */
    reason?: string;
    /** Recorded inside the rollback window when nothing was typed (a button). */
    defaultReason?: string;
    /** A button's release: the rollback acts only while it is the live one. */
    releaseId?: string;
  },
): Promise<Answer> {
  const state = await currentState(deps, request.service);
  const release = await releaseToRollBack(deps, state);
  if (request.releaseId !== undefined && request.releaseId !== release?.id) {
    const clicked = await deps.store.getRelease(request.releaseId);
    throw new ReleaseError(
      'stale',
      `${request.service} ${state.slots[state.production].version ?? ''} is live now; this message is about ${clicked?.version ?? 'an older release'}.`,
      `Nothing was changed. To roll back what is live: /rollback ${request.service} <reason>`,
    );
  }
  if (release === null) {
    // Without a release record (a lost key) no one knows which flags it turned on: say so.
    const flags = serviceConfig(deps, request.service).flags.map((f) => f.name);
    throw new ReleaseError(
      'not_available',
      `${request.service} has no release to roll back.`,
      `See /release status ${request.service}.${flags.length ? ` Its flags (${flags.join(', ')}) are not turned off without a release: /flag ${request.service} <flag> off` : ''}`,
    );
  }
  const op = state.operation;
  if (op !== null && op.releaseId !== release.id && op.kind !== 'bump' && op.kind !== 'sync')
    throw busyError(request.service, op);
  const ended = ENDED_MESSAGES[release.state];
  if (ended !== undefined) {
    throw new ReleaseError(
      'not_available',
      `The last release of ${request.service} (${release.version}) ${ended}: PRODUCTION is ${state.production} (${state.slots[state.production].version}).`,
      `Nothing to roll back. See /release status ${request.service}.`,
    );
  }
  const outside = outsideRollbackWindow(deps, release);
  if (outside !== undefined) {
    return askRollbackApproval(deps, release, request.by, request.reason, outside);
  }
  const typed = request.reason?.trim() ? request.reason.trim() : undefined;
  const needsRedeploy = redeployNeeded(state, release);
  if (typed === undefined && request.defaultReason === undefined && needsRedeploy !== undefined) {
    // Redeploying is slow and changes a slot: worth one sentence of why, asked for once.
    throw new ReleaseError(
      'needs_reason',
      `Rolling ${release.service} back means redeploying ${release.fromVersion} onto ${release.fromSlot} first: ${needsRedeploy}.`,
      `Say why, and it starts at once: /rollback ${release.service} <reason>`,
    );
  }
  const reason = typed ?? request.defaultReason ?? 'no reason given';
  const applied = await beginRollback(deps, release.id, {
    type: 'rollback',
    user: request.by,
    reason,
  });
  const r = applied.release;
  if (r.state === 'cancelled') {
    return {
      message: `Cancelled the pending release of ${r.service} ${r.version}: no traffic had moved.`,
      hint: `PRODUCTION stays on ${r.fromSlot} (${r.fromVersion}).${cancelledStepsHint(r)}`,
    };
  }
  return {
    message: `Rolling ${r.service} back to ${r.fromVersion} on ${r.fromSlot}.`,
    hint: `The alert is in <#${deps.config.alertsChannel}>; ${r.version} stays on STANDBY (${r.toSlot}) for investigation.`,
  };
}

/**
 * Why the rollback would have to redeploy the last good version before moving traffic (its slot
 * was changed by /sync or is being changed by a /bump it preempts), or undefined when the slot is
 * still warm or traffic never left it.
 */
export function redeployNeeded(state: ServiceState, release: Release): string | undefined {
  if (release.state === 'awaiting_approval' || release.state === 'running_steps') return undefined;
  const op = state.operation;
  if (op !== null && (op.kind === 'bump' || op.kind === 'sync'))
    return `a /${op.kind} is changing ${release.fromSlot} now`;
  const slot = state.slots[release.fromSlot];
  if (slot.version !== release.fromVersion)
    return `${release.fromSlot} runs ${slot.version ?? 'an unknown version'} now`;
  return undefined;
}

/** Releases that ended without ever leaving traffic on their slot. */
const NEVER_LIVE: readonly Release['state'][] = ['rejected', 'cancelled', 'failed'];

/**
 * What /rollback acts on: the last release while it is in progress; otherwise the live one, the
 * newest release that left traffic on its slot, looking past releases that never went live (a
 * pending release cancelled by a first /rollback must not hide the broken one behind it).
 */
export async function releaseToRollBack(
  deps: Uses<'store'>,
  state: ServiceState,
): Promise<Release | null> {
  const last = state.lastReleaseId ? await deps.store.getRelease(state.lastReleaseId) : null;
  if (last === null || !NEVER_LIVE.includes(last.state)) return last;
  for (const release of await deps.store.listReleases(state.service, 20)) {
    if (NEVER_LIVE.includes(release.state)) continue;
    return release.state === 'released' && release.toSlot === state.production ? release : last;
  }
  return last;
}

/** Who approves a rollback asked for outside the rollback window. */
export const ROLLBACK_APPROVER_ROLE = 'lead';

/**
 * Starts a rollback through the runner: the service is held for it (a running /bump or /sync is
 * preempted), its step is enqueued for this revision and the alert goes out. Used by /rollback,
 * its late approval, the automatic rollback and the sweeper's deadlines.
 */
export async function beginRollback(
  deps: Uses<EventPorts | 'comms'>,
  releaseId: string,
  event: Extract<ReleaseEvent, { type: 'rollback' }>,
): Promise<AppliedEvent> {
  return runEvent(deps, releaseId, event);
}

/** How long ago the rollback window closed, phrased, or undefined while the release is inside it. */
function outsideRollbackWindow(
  deps: Uses<'clock' | 'config'>,
  release: Release,
): string | undefined {
  if (release.state !== 'released' || release.releasedAt === undefined) return undefined;
  const rule = releaseTypeRule(release.type, serviceConfig(deps, release.service).releaseTypes);
  const closes = Date.parse(release.releasedAt) + rule.rollbackWindowMinutes * 60_000;
  if (deps.clock.now().getTime() <= closes) return undefined;
  const hours = rule.rollbackWindowMinutes / 60;
  return `its ${hours >= 1 ? `${hours} h` : `${rule.rollbackWindowMinutes} min`} rollback window closed at ${new Date(closes).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

async function askRollbackApproval(
  deps: Uses<EventPorts | 'comms'>,
  release: Release,
  by: string,
  reason: string | undefined,
  outside: string,
): Promise<Answer> {
  if (reason === undefined || reason.trim() === '') {
    throw new ReleaseError(
      'not_allowed',
      `${release.service} ${release.version} is past its rollback window: ${outside}.`,
      `A rollback now needs a reason and an approval from ${ROLLBACK_APPROVER_ROLE}: /rollback ${release.service} <reason>`,
    );
  }
  await runEvent(deps, release.id, { type: 'rollback_requested', user: by, reason });
  return {
    message: `${release.service} ${release.version} is past its rollback window (${outside}): the rollback waits for an approval from ${ROLLBACK_APPROVER_ROLE}.`,
    hint: `They click Approve rollback on the release message in <#${serviceConfig(deps, release.service).channel}>.`,
  };
}

/** The Approve rollback click on a release past its rollback window: one approval from the lead role. */
export async function approveRollback(
  deps: Uses<EventPorts | 'comms' | 'directory'>,
  request: { releaseId: string; user: string },
): Promise<Answer> {
  const release = await deps.store.getRelease(request.releaseId);
  const pending = release?.pendingRollback;
  if (release === null || pending === undefined || release.state !== 'released') {
    throw new ReleaseError(
      'not_available',
      'There is no rollback waiting for approval on this release.',
      'See /release status.',
    );
  }
  if (pending.by === request.user) {
    throw new ReleaseError(
      'not_allowed',
      'You asked for this rollback; someone else must approve it.',
      `Ask a ${ROLLBACK_APPROVER_ROLE}.`,
    );
  }
  // Only while its release is the live one: a click on an older release's message must never
  // send traffic (or a redeploy) anywhere.
  const state = await currentState(deps, release.service);
  if (
    (await releaseToRollBack(deps, state))?.id !== release.id ||
    state.production !== release.toSlot
  ) {
    throw new ReleaseError(
      'stale',
      `This rollback was asked for ${release.service} ${release.version}, which is no longer live: PRODUCTION is ${state.production} (${state.slots[state.production].version ?? 'unknown version'}).`,
      `Nothing was changed. If the live version is wrong: /rollback ${release.service} <reason>`,
    );
  }
  const members = await deps.directory.members(deps.config.roles[ROLLBACK_APPROVER_ROLE] ?? []);
  if (!members.includes(request.user)) {
    throw new ReleaseError(
      'not_allowed',
      `Only ${ROLLBACK_APPROVER_ROLE} can approve a rollback outside the rollback window.`,
      `Ask a ${ROLLBACK_APPROVER_ROLE}.`,
    );
  }
  const { release: r } = await beginRollback(deps, release.id, {
    type: 'rollback',
    user: pending.by,
    reason: pending.reason,
    approvedBy: request.user,
  });
  return {
    message: `Rollback approved: ${r.service} goes back to ${r.fromVersion} on ${r.fromSlot}.`,
  };
}

/** Cancelled during its steps: a step still running is not stopped, and data may have changed. */
function cancelledStepsHint(release: Release): string {
  const unfinished = (release.steps ?? []).filter((s) => s.startedAt && !s.finishedAt);
  const touched = dataTouched(release);
  return [
    ...unfinished.map((s) =>
      // Found cut off: nothing runs it any more, so no thread message will say how it ended.
      awaitsWord(s)
        ? ` ${s.name} was cut off while it ran and nobody said whether it completed: check it by hand.`
        : ` ${s.name} is still running: Greenlight does not stop it; the thread says how it ends.`,
    ),
    touched.length > 0 ? ` The data layer is not rolled back: ${compensationText(touched)}.` : '',
  ].join('');
}
