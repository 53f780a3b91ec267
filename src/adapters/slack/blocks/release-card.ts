import type { KnownBlock } from '@slack/types';
import type { ServiceConfig } from '../../../config/greenlight-schema.ts';
import { fenceValue } from '../../../domain/click-fence.ts';
import { missingRoles, type Release } from '../../../domain/release.ts';
import { notesText, notesUnavailableText } from '../../../domain/release-notes.ts';
import { stageLabel } from '../../../domain/rings.ts';
import { type ServiceState, standbyOf } from '../../../domain/service-state.ts';
import {
  button,
  context,
  escapeText,
  fields,
  header,
  plain,
  type SlackMessage,
  section,
} from './block-kit.ts';
import { preChecklistBlocks } from './checklist-blocks.ts';
import {
  STEP_APPROVE_ACTION,
  STEP_COMPLETED_ACTION,
  STEP_NOT_COMPLETED_ACTION,
  stepBlocks,
} from './step-blocks.ts';

/** action_ids of the release buttons; the value is the release id and the stage it was drawn at. */
export const ACTIONS = {
  approve: 'release_approve',
  reject: 'release_reject',
  rollback: 'release_rollback',
  approveRollback: 'release_rollback_approve',
  promote: 'release_promote',
  pause: 'release_pause',
  resume: 'release_resume',
  abort: 'release_abort',
  approveStep: STEP_APPROVE_ACTION,
  stepCompleted: STEP_COMPLETED_ACTION,
  stepNotCompleted: STEP_NOT_COMPLETED_ACTION,
} as const;

const STATUS: Record<Release['state'], string> = {
  awaiting_approval: ':hourglass_flowing_sand: Waiting for approval',
  running_steps: ':gear: Running steps before the switch',
  switching: ':arrows_counterclockwise: Switching',
  ramping: ':chart_with_upwards_trend: Canary',
  observing: ':eyes: Observing',
  released: ':white_check_mark: Released',
  rejected: ':no_entry_sign: Rejected',
  cancelled: ':no_entry_sign: Cancelled',
  failed: ':x: Failed, PRODUCTION restored',
  rolling_back: ':rotating_light: Rolling back',
  rolled_back: ':leftwards_arrow_with_hook: Rolled back',
};

function slotLine(config: ServiceConfig, state: ServiceState, slot: 'blue' | 'green'): string {
  const s = state.slots[slot];
  return `${slot} · ${s.version ?? 'no version'} · ${s.health}\n${config.slots[slot].url}`;
}

/** Who can give `role`, as mentions (user groups as group mentions), but not `except`. */
function roleMembers(
  roles: Readonly<Record<string, readonly string[]>>,
  role: string,
  except: readonly string[],
) {
  return (roles[role] ?? [])
    .filter((p) => !except.includes(p))
    .map((p) => (p.startsWith('S') ? `<!subteam^${p}>` : `<@${p}>`))
    .join(' ');
}

function approvalsText(
  release: Release,
  roles: Readonly<Record<string, readonly string[]>> = {},
): string {
  if (release.requiredRoles.length === 0) return 'none needed';
  const given = release.approvals.map((a) => `:white_check_mark: ${a.role}: <@${a.user}>`);
  const waiting = release.state === 'awaiting_approval';
  // Still waiting: ping the people who can act (never the requester, nor one who approved for
  // another role). Decided without them: say so.
  const except = [release.requester, ...release.approvals.map((a) => a.user)];
  const missing = missingRoles(release).map((r) => {
    if (!waiting) return `:heavy_minus_sign: ${r}: not given`;
    const who = roleMembers(roles, r, except);
    return `:hourglass: ${r}: missing${who ? ` · ${who}` : ''}`;
  });
  return [...given, ...missing].join('\n');
}

/** A danger button that sends all traffic back, behind a confirm dialog saying where to. */
function backButton(release: Release, actionId: string, label: string, title: string, ok: string) {
  return button(actionId, label, fenceValue(release), {
    style: 'danger',
    confirm: {
      title,
      text: `All traffic goes back to ${release.fromSlot} (${release.fromVersion}) at once.`,
      ok,
    },
  });
}

/** Whole minutes from one ISO time to another, never negative. */
export const minutesBetween = (from: string, to: string) =>
  Math.max(0, Math.round((Date.parse(to) - Date.parse(from)) / 60_000));

/** `Canary 20 %` or `Observing 12/30 min`, with a pause or a pending promotion. */
export function liveStatus(release: Release, now = release.updatedAt): string {
  let status: string;
  if (release.state === 'ramping' && release.canary) {
    const weight = release.canary.steps[release.canary.stepIndex] ?? 0;
    const ring = release.canary.rings?.[release.canary.stepIndex];
    status = ring
      ? `Ring ${ring.name} (${ring.who}; ${weight} % of everyone else)`
      : `${STATUS.ramping} ${weight} %`;
    if (release.canary.withoutEvidence !== undefined)
      status += ' · hold ended without evidence, waiting for Promote anyway or Abort';
    else if (release.canary.awaitingPromotion)
      status +=
        release.canary.holdPassed === false
          ? ' · hold time ended (shadow analysis), waiting for Promote'
          : ' · hold passed, waiting for Promote';
  } else {
    const total =
      release.releasedAt && release.observeUntil
        ? minutesBetween(release.releasedAt, release.observeUntil)
        : 0;
    const elapsed = release.releasedAt
      ? Math.min(total, minutesBetween(release.releasedAt, now))
      : 0;
    status = `${STATUS.observing} ${elapsed}/${total} min`;
  }
  if (release.paused)
    status += ` · paused by ${release.paused.by === 'greenlight' ? 'Greenlight' : `<@${release.paused.by}>`}: ${escapeText(release.paused.reason)}`;
  return status;
}

/** The parent message of a release, edited in place at every state change. */
export function releaseParentMessage(
  release: Release,
  state: ServiceState,
  config: ServiceConfig,
  roles: Readonly<Record<string, readonly string[]>> = {},
): SlackMessage {
  const title = `${release.service} ${release.fromVersion} → ${release.version} (${release.type})`;
  let status = STATUS[release.state];
  if (release.state === 'ramping' || release.state === 'observing') status = liveStatus(release);
  if (release.state === 'rejected' && release.decidedBy) {
    status += ` by <@${release.decidedBy}>${release.rejectReason ? `: ${escapeText(release.rejectReason)}` : ''}`;
  }
  if ((release.state === 'failed' || release.state === 'cancelled') && release.failure)
    status += `\n${escapeText(release.failure)}`;
  if (
    release.rollback &&
    (release.state === 'rolling_back' ||
      release.state === 'rolled_back' ||
      release.state === 'cancelled')
  ) {
    status +=
      release.rollback.by === 'greenlight'
        ? ` automatically: ${escapeText(release.rollback.reason)}`
        : ` by <@${release.rollback.by}>: ${escapeText(release.rollback.reason)}`;
    if (release.rollback.approvedBy) status += ` (approved by <@${release.rollback.approvedBy}>)`;
  }
  if (release.freezeException) {
    status += `\nHotfix while ${escapeText(release.freezeException.window)}: ${escapeText(release.freezeException.justification)}`;
  }
  const blocks: KnownBlock[] = [
    header(title),
    section(`*${status}*`),
    fields(
      `*Requester*\n<@${release.requester}>`,
      `*Approvals*\n${approvalsText(release, roles)}`,
      `*PRODUCTION*\n${slotLine(config, state, state.production)}`,
      `*STANDBY*\n${slotLine(config, state, standbyOf(state))}`,
    ),
  ];
  if (release.notes !== undefined)
    blocks.push(
      section(release.notes.ok ? notesText(release.notes) : notesUnavailableText(release.notes)),
    );
  blocks.push(...preChecklistBlocks(release));
  blocks.push(...stepBlocks(release, roles));
  if (release.state === 'awaiting_approval') {
    blocks.push({
      type: 'actions',
      block_id: 'release_decision',
      elements: [
        button(ACTIONS.approve, 'Approve', fenceValue(release), {
          style: 'primary',
          confirm: {
            title: 'Approve this release?',
            text: `Traffic for ${release.service} moves to ${release.toSlot} (${release.version}) once every role has approved.`,
            ok: 'Approve',
          },
        }),
        // No confirm dialog: Reject opens a form that asks why, which is the confirmation.
        button(ACTIONS.reject, 'Reject', fenceValue(release), { style: 'danger' }),
      ],
    });
  } else if (release.state === 'ramping') {
    const next = stageLabel(release, (release.canary?.stepIndex ?? 0) + 1);
    const moves = release.canary?.rings ? `moves on to ${next}` : `gets ${next} of traffic`;
    blocks.push({
      type: 'actions',
      block_id: 'release_canary',
      elements: [
        release.canary?.withoutEvidence !== undefined
          ? button(ACTIONS.promote, `Promote anyway to ${next}`, fenceValue(release), {
              confirm: {
                title: 'Promote without evidence?',
                text: `The analysis could not judge the canary (${release.canary.withoutEvidence}). ${release.toSlot} ${moves}, recorded as promoted anyway by you.`,
                ok: 'Promote anyway',
              },
            })
          : button(ACTIONS.promote, `Promote to ${next}`, fenceValue(release), {
              style: 'primary',
              confirm: {
                title: 'Promote the canary?',
                text: `${release.toSlot} ${moves}.`,
                ok: 'Promote',
              },
            }),
        release.paused
          ? button(ACTIONS.resume, 'Resume', fenceValue(release))
          : button(ACTIONS.pause, 'Pause', fenceValue(release)),
        backButton(release, ACTIONS.abort, 'Abort', 'Abort the canary?', 'Abort'),
      ],
    });
  } else if (release.state === 'observing') {
    blocks.push({
      type: 'actions',
      block_id: 'release_observing',
      elements: [
        backButton(release, ACTIONS.rollback, 'Rollback', 'Roll back?', 'Roll back'),
        ...(release.paused ? [button(ACTIONS.resume, 'Resume', fenceValue(release))] : []),
      ],
    });
  } else if (release.state === 'released' && release.pendingRollback !== undefined) {
    const pending = release.pendingRollback;
    blocks.push(
      section(
        `:warning: <@${pending.by}> asks to roll back outside the rollback window: ${escapeText(pending.reason)}. Needs an approval from lead.`,
      ),
      {
        type: 'actions',
        block_id: 'release_rollback_request',
        elements: [
          backButton(
            release,
            ACTIONS.approveRollback,
            'Approve rollback',
            'Approve the rollback?',
            'Roll back',
          ),
        ],
      },
    );
  } else if (release.state === 'released') {
    blocks.push({
      type: 'actions',
      block_id: 'release_live',
      elements: [backButton(release, ACTIONS.rollback, 'Rollback', 'Roll back?', 'Roll back')],
    });
  }
  blocks.push(
    context(
      `Release ${release.id} · updated ${release.updatedAt.slice(0, 16).replace('T', ' ')} UTC`,
    ),
  );
  return { text: plain(`${title}: ${STATUS[release.state].replace(/:[a-z_]+: /, '')}`), blocks };
}
