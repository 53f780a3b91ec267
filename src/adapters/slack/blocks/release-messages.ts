import type { DeployNotice } from '../../../app/ports.ts';
import type { ServiceConfig } from '../../../config/greenlight-schema.ts';
import { describeReading, readEvidence, type VerdictName } from '../../../domain/analysis.ts';
import { fenceValue } from '../../../domain/click-fence.ts';
import { describeEvidence } from '../../../domain/error-judge.ts';
import { missingRoles, type Release } from '../../../domain/release.ts';
import { type ServiceState, standbyOf } from '../../../domain/service-state.ts';
import {
  type Block,
  button,
  context,
  escapeCode,
  escapeText,
  fields,
  header,
  plain,
  type SlackMessage,
  section,
} from './block-kit.ts';

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
} as const;

/** callback_id of the modal that asks why a release is rejected. */
export const REJECT_MODAL = 'release_reject_reason';

/** Replaced by the outbox with a link to the release's thread once its parent is posted. */
export const THREAD_LINK = '{{thread_link}}';

const STATUS: Record<Release['state'], string> = {
  awaiting_approval: ':hourglass_flowing_sand: Waiting for approval',
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

/** A person as Slack renders them, or Greenlight's own automatic steps in words. */
export function actor(who: string): string {
  return who === 'greenlight' ? 'Greenlight (automatic)' : `<@${who}>`;
}

/** Who can give a role: its members mentioned (user groups as Slack group mentions). */
export function roleMembers(roles: Readonly<Record<string, readonly string[]>>, role: string) {
  return (roles[role] ?? [])
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
  // Still waiting: ping the people who can act. Decided without them: say so.
  const missing = missingRoles(release).map((r) =>
    waiting
      ? `:hourglass: ${r}: missing${roleMembers(roles, r) ? ` · ${roleMembers(roles, r)}` : ''}`
      : `:heavy_minus_sign: ${r}: not given`,
  );
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

const minutesBetween = (from: string, to: string) =>
  Math.max(0, Math.round((Date.parse(to) - Date.parse(from)) / 60_000));

/** `Canary 20 %` or `Observing 12/30 min`, with a pause or a pending promotion. */
export function liveStatus(release: Release, now = release.updatedAt): string {
  let status: string;
  if (release.state === 'ramping' && release.canary) {
    const weight = release.canary.steps[release.canary.stepIndex] ?? 0;
    status = `${STATUS.ramping} ${weight} %`;
    if (release.canary.withoutEvidence !== undefined)
      status += ' · hold ended without evidence, waiting for Promote anyway or Abort';
    else if (release.canary.awaitingPromotion) status += ' · hold passed, waiting for Promote';
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
  const blocks: Block[] = [
    header(title),
    section(`*${status}*`),
    fields(
      `*Requester*\n<@${release.requester}>`,
      `*Approvals*\n${approvalsText(release, roles)}`,
      `*PRODUCTION*\n${slotLine(config, state, state.production)}`,
      `*STANDBY*\n${slotLine(config, state, standbyOf(state))}`,
    ),
  ];
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
    const next = release.canary ? (release.canary.steps[release.canary.stepIndex + 1] ?? 100) : 100;
    blocks.push({
      type: 'actions',
      block_id: 'release_canary',
      elements: [
        release.canary?.withoutEvidence !== undefined
          ? button(ACTIONS.promote, `Promote anyway to ${next} %`, fenceValue(release), {
              confirm: {
                title: 'Promote without evidence?',
                text: `The analysis could not judge the canary (${release.canary.withoutEvidence}). ${release.toSlot} gets ${next} % of traffic, recorded as promoted anyway by you.`,
                ok: 'Promote anyway',
              },
            })
          : button(ACTIONS.promote, `Promote to ${next} %`, fenceValue(release), {
              style: 'primary',
              confirm: {
                title: 'Promote the canary?',
                text: `${release.toSlot} gets ${next} % of traffic.`,
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

/** States whose arrival the requester hears about by name. */
const TELL_REQUESTER: readonly Release['state'][] = [
  'switching',
  'released',
  'observing',
  'rejected',
  'rolling_back',
  'rolled_back',
  'failed',
  'cancelled',
];

/**
 * A thread reply for one timeline entry, as a sentence: `<@U…> approved as lead.`, or for
 * Greenlight's own steps the step itself (`Traffic switched blue → green.`). The requester is
 * mentioned when their release switches, goes live, or is rejected, cancelled or rolled back.
 */
export function timelineReply(release: Release): SlackMessage | undefined {
  const entry = release.timeline.at(-1);
  if (entry === undefined) return undefined;
  // Entries may name people (<@U…>, written by Greenlight); everything else in them goes
  // through the user-text rule, so nothing a person typed into an entry can become a mention.
  const what = entry.what
    .split(/(<@[UW][A-Z0-9]+>)/)
    .map((part) => (/^<@[UW][A-Z0-9]+>$/.test(part) ? part : escapeText(part)))
    .join('');
  let text =
    entry.who === 'greenlight'
      ? `${what.charAt(0).toUpperCase()}${what.slice(1)}`
      : `<@${entry.who}> ${what}`;
  if (!/[.!?]$/.test(text)) text += '.';
  const decisive =
    TELL_REQUESTER.includes(release.state) &&
    release.stateSince === entry.at &&
    entry.who !== release.requester;
  if (decisive) text += ` cc <@${release.requester}>`;
  return { text: plain(text), blocks: [section(text)] };
}

/** The completion report in the thread, in the seeds' own shape. */
export function completionReport(
  release: Release,
  state: ServiceState,
  config: ServiceConfig,
): SlackMessage {
  const newProd = state.production;
  const newStandby = standbyOf(state);
  const lines = [
    `:white_check_mark: Verify STANDBY ready: v${release.version} (${release.toSlot})`,
    `:white_check_mark: Verify PRODUCTION: v${release.fromVersion} (${release.fromSlot})`,
    `:white_check_mark: Switch HAProxy traffic: ${release.fromSlot} → ${release.toSlot}`,
    ':white_check_mark: Confirm switch successful',
  ];
  const summary = [
    `*New PRODUCTION:* ${newProd} (${config.slots[newProd].url}) - v${state.slots[newProd].version}`,
    `*New STANDBY:* ${newStandby} (${config.slots[newStandby].url}) - v${state.slots[newStandby].version}`,
    release.observeUntil && release.state === 'observing'
      ? `*Next:* \`/sync ${release.service}\` once the stability window ends at ${release.observeUntil.slice(11, 16)} UTC (until then ${release.fromSlot} stays the instant-rollback target)`
      : `*Next:* \`/sync ${release.service}\``,
  ];
  return {
    text: plain(`${release.service} ${release.version} released. ${summary.join(' ')}`),
    blocks: [section(lines.join('\n')), section(summary.join('\n'))],
  };
}

/** The rollback alert (seed 002 template), posted in the alerts channel and updated in place. */
export function rollbackAlert(
  release: Release,
  config: ServiceConfig,
  status: 'in_progress' | 'done' | 'failed',
): SlackMessage {
  const headline =
    status === 'done'
      ? ':large_orange_circle: [ROLLBACK] Production restored after a rollback'
      : status === 'failed'
        ? ':x: [ROLLBACK] Production rollback FAILED'
        : ':rotating_light: [ROLLBACK] Production rollback in progress';
  const rollback = release.rollback;
  const who =
    rollback === undefined
      ? 'unknown'
      : rollback.by === 'greenlight'
        ? 'automatic rollback (Greenlight)'
        : `<@${rollback.by}>`;
  const path =
    rollback?.path === 'redeploy'
      ? `redeployed ${release.fromVersion} to ${release.fromSlot}, then switched`
      : 'switched straight back to the warm previous slot';
  const statusText =
    status === 'done'
      ? `Complete: ${path}`
      : status === 'failed'
        ? `Failed: ${escapeText(release.failure ?? 'unknown error')}. Run /rollback ${release.service} again or act on HAProxy by hand.`
        : 'Switching traffic back';
  const links = [`<${THREAD_LINK}|Release thread>`];
  if (config.runbookUrl) links.push(`<${config.runbookUrl}|Runbook>`);
  if (config.dashboardUrl) links.push(`<${config.dashboardUrl}|Dashboard>`);
  const facts = [
    `*Service:* ${release.service}`,
    `*Rolled back to:* ${release.fromVersion} (${release.fromSlot})`,
    `*Failed version:* ${release.version} (stays on STANDBY ${release.toSlot})`,
    `*Reason:* ${escapeText(rollback?.reason ?? 'none given')}`,
    ...(release.analysis?.canary
      ? [
          `*Canary (${release.toSlot}):* ${describeReading(release.analysis.canary)}${release.analysis.baseline ? ` · *baseline (${release.fromSlot}):* ${describeReading(release.analysis.baseline)}` : ''}`,
        ]
      : []),
    ...(release.analysis?.evidence !== undefined
      ? [`*Evidence so far:* ${describeEvidence(readEvidence(release.analysis.evidence))}`]
      : []),
    `*Who:* ${who}${rollback?.approvedBy ? ` (approved by <@${rollback.approvedBy}>)` : ''}`,
    `*Status:* ${statusText}`,
    // Nobody is paged by "automatic": the people behind the release are.
    `*Release by:* <@${release.requester}>${release.approvals.length ? ` · *approved by:* ${release.approvals.map((a) => `<@${a.user}>`).join(', ')}` : ''}`,
    `*Links:* ${links.join(' · ')}`,
  ];
  return {
    text: plain(
      `${headline.replace(/^:[a-z_]+: /, '')}: ${release.service} back to ${release.fromVersion} (${release.fromSlot}). Reason: ${escapeText(rollback?.reason ?? 'none given')}`,
    ),
    blocks: [section(`*${headline}*`), section(facts.join('\n'))],
  };
}

/** A /bump or /sync in the service channel: posted when it starts, edited with the result. */
export function deployMessage(
  notice: DeployNotice,
  outcome?: { ok: true } | { ok: false; reason: string; outputTail?: string },
): SlackMessage {
  const what = notice.kind === 'bump' ? `/bump by <@${notice.by}>` : `/sync by <@${notice.by}>`;
  if (outcome === undefined) {
    const text = `:hourglass_flowing_sand: Deploying ${notice.service} ${notice.version} to STANDBY (${notice.slot}) · ${what}`;
    return { text: plain(text), blocks: [section(text)] };
  }
  if (outcome.ok) {
    const text =
      notice.kind === 'bump'
        ? `:white_check_mark: ${notice.service} ${notice.version} is on STANDBY (${notice.slot}), healthy: test it at ${notice.slotUrl}, then \`/release ${notice.service}\``
        : `:white_check_mark: STANDBY (${notice.slot}) of ${notice.service} is in sync with PRODUCTION: ${notice.version}, healthy`;
    return { text: plain(text), blocks: [section(text), context(what)] };
  }
  const text = `:x: Deploy of ${notice.service} ${notice.version} to STANDBY (${notice.slot}) failed: ${escapeText(outcome.reason)}. PRODUCTION (${notice.productionVersion ?? 'unknown'}) is untouched.`;
  const blocks: Block[] = [section(text)];
  if (outcome.outputTail)
    blocks.push(section(`\`\`\`${escapeCode(outcome.outputTail).slice(-2800)}\`\`\``));
  blocks.push(context(`${what} · fix the cause, then \`/bump ${notice.service}\` again`));
  return { text: plain(text), blocks };
}

export function driftMessage(detail: string): SlackMessage {
  const text = `:warning: Traffic drift: ${escapeText(detail)}`;
  return { text: plain(text), blocks: [section(text)] };
}

export function adoptedMessage(detail: string): SlackMessage {
  const text = `:information_source: State adopted from the proxy: ${escapeText(detail)}`;
  return { text: plain(text), blocks: [section(text)] };
}

export function noteMessage(text: string): SlackMessage {
  const safe = escapeText(text);
  return { text: plain(safe), blocks: [section(safe)] };
}

/** The modal that asks why a release is rejected; the reason is recorded and shown. */
export function rejectModal(release: Release, channel: string, stage?: string) {
  return {
    type: 'modal' as const,
    callback_id: REJECT_MODAL,
    private_metadata: JSON.stringify({
      releaseId: release.id,
      channel,
      ...(stage ? { stage } : {}),
    }),
    title: { type: 'plain_text' as const, text: 'Reject release' },
    submit: { type: 'plain_text' as const, text: 'Reject' },
    close: { type: 'plain_text' as const, text: 'Cancel' },
    blocks: [
      section(
        `Reject *${release.service} ${release.version}*? ${release.service} stays on ${release.fromVersion}.`,
      ),
      {
        type: 'input' as const,
        block_id: 'reason',
        label: { type: 'plain_text' as const, text: 'Why?' },
        element: {
          type: 'plain_text_input' as const,
          action_id: 'reason_input',
          multiline: true,
          min_length: 3,
          max_length: 500,
        },
      },
    ],
  };
}

const VERDICT_WORDS: Record<VerdictName, string> = {
  pass: 'pass',
  fail: 'fail, strong evidence of harm',
  breach: 'ceiling crossed',
  inconclusive: 'not enough evidence yet',
  no_data: 'no data',
};

function verdictWords(verdict: VerdictName | undefined): string {
  return verdict === undefined ? 'none yet' : VERDICT_WORDS[verdict];
}

/** The periodic progress reply: stage, split, canary and baseline against thresholds, what next. */
export function progressMessage(
  release: Release,
  config: ServiceConfig,
  now: Date,
  missing: readonly string[],
): SlackMessage {
  const t = config.analysis;
  const latencyCeiling =
    t.source === 'haproxy'
      ? `mean response time ≤ ${t.maxMeanMs ?? t.maxP99Ms} ms`
      : `P99 ≤ ${t.maxP99Ms} ms`;
  const thresholds = `rolls back on strong evidence of more errors than the baseline or of errors above ${t.maxErrorRatePercent} %, or on ${latencyCeiling} crossed in ${t.consecutiveBreaches} intervals in a row; passes on evidence of errors under ${t.maxErrorRatio}× the baseline's (or under ${t.errorRateFloorPercent} %)${t.dryRun ? '; shadow mode: nothing is acted on' : ''}`;
  const lines: string[] = [];
  let next: string;
  if (release.state === 'awaiting_approval') {
    const waited = minutesBetween(release.createdAt, now.toISOString());
    lines.push(
      `*Stage:* waiting for approval for ${waited} min · traffic: ${release.fromSlot} 100 %`,
    );
    next = `Next: approval from ${missing.join(' and ')} (Approve on the release message)`;
  } else {
    const weight =
      release.state === 'ramping' && release.canary
        ? (release.canary.steps[release.canary.stepIndex] ?? 0)
        : 100;
    lines.push(
      `*Stage:* ${plain(liveStatus(release, now.toISOString()))} · traffic: ${release.toSlot} ${weight} % / ${release.fromSlot} ${100 - weight} %`,
    );
    const a = release.analysis;
    const canaryLabel = release.strategy === 'canary' ? 'Canary' : 'New';
    const baselineLabel = release.strategy === 'canary' ? 'Baseline' : 'Previous';
    lines.push(
      `*${canaryLabel} (${release.toSlot}):* ${a?.canary ? describeReading(a.canary) : 'no reading yet'}`,
    );
    lines.push(
      `*${baselineLabel} (${release.fromSlot}):* ${a?.baseline ? describeReading(a.baseline) : 'no reading yet'}`,
    );
    lines.push(
      `*Verdict:* ${verdictWords(a?.lastVerdict)}${a?.lastFigures?.length ? `: ${a.lastFigures.join('; ')}` : ''}`,
    );
    lines.push(`_${thresholds}_`);
    if (release.state === 'ramping' && release.canary) {
      const inStage = minutesBetween(release.canary.stepStartedAt, now.toISOString());
      const left = Math.max(0, Math.ceil(config.canary.holdMinutes - inStage));
      lines.push(`*Time in stage:* ${inStage} min · hold left: ${left} min`);
      const upcoming = release.canary.steps[release.canary.stepIndex + 1] ?? 100;
      next = release.paused
        ? 'Next: an approver clicks Resume or Abort'
        : release.canary.withoutEvidence !== undefined
          ? `Next: not enough evidence (${release.canary.withoutEvidence}); an approver clicks Promote anyway to ${upcoming} % or Abort`
          : release.canary.awaitingPromotion
            ? `Next: an approver clicks Promote to ${upcoming} %`
            : config.canary.autoPromote
              ? `Next: automatic promotion to ${upcoming} % after the hold`
              : `Next: after the hold, an approver clicks Promote to ${upcoming} %`;
    } else {
      // The same minutes as the stage line (`Observing 1/3 min`), so the two always add up.
      const total =
        release.releasedAt && release.observeUntil
          ? minutesBetween(release.releasedAt, release.observeUntil)
          : 0;
      const elapsed = release.releasedAt
        ? Math.min(total, minutesBetween(release.releasedAt, now.toISOString()))
        : 0;
      const left = total - elapsed;
      lines.push(`*Stability window:* ${left} min left`);
      next = release.paused
        ? 'Next: an approver clicks Resume or Rollback'
        : 'Next: released when the window passes; Rollback at any time';
    }
  }
  lines.push(next);
  const title = `:bar_chart: Progress · ${release.service} ${release.fromVersion} → ${release.version}`;
  return {
    text: plain(`${title}. ${lines.join(' ')}`),
    blocks: [section(`*${title}*`), section(lines.join('\n'))],
  };
}
