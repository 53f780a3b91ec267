import type { ServiceConfig } from '../../../config/greenlight-schema.ts';
import { describeReading, type VerdictName } from '../../../domain/analysis.ts';
import type { Release } from '../../../domain/release.ts';
import { holdMinutesOf, stageLabel } from '../../../domain/rings.ts';
import { type ServiceState, standbyOf } from '../../../domain/service-state.ts';
import { escapeText, plain, type SlackMessage, section } from './block-kit.ts';
import { checklistProgressLine } from './checklist-blocks.ts';
import { liveStatus, minutesBetween } from './release-card.ts';
import { stepProgress } from './step-blocks.ts';

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

export function noteMessage(text: string): SlackMessage {
  const safe = escapeText(text);
  return { text: plain(safe), blocks: [section(safe)] };
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
  loadBalancers: readonly string[] = [],
): SlackMessage {
  const t = config.analysis;
  const latencyCeiling =
    t.source === 'haproxy'
      ? `a mean response time above ${t.maxMeanMs ?? t.maxP99Ms} ms`
      : `a P99 above ${t.maxP99Ms} ms`;
  const thresholds = `rolls back on strong evidence of more errors than the baseline or of errors above ${t.maxErrorRatePercent} %, or on ${latencyCeiling} in ${t.consecutiveBreaches} intervals in a row; passes on evidence of errors under ${t.maxErrorRatio}× the baseline's (or under ${t.errorRateFloorPercent} %)${t.dryRun ? '; shadow mode: nothing is acted on' : ''}`;
  const lines: string[] = [];
  let next: string;
  if (release.state === 'awaiting_approval') {
    const waited = minutesBetween(release.createdAt, now.toISOString());
    lines.push(
      `*Stage:* waiting for approval for ${waited} min · traffic: ${release.fromSlot} 100 %`,
    );
    next = `Next: approval from ${missing.join(' and ')} (Approve on the release message)`;
  } else if (release.state === 'running_steps') {
    const progress = stepProgress(release);
    lines.push(`*Stage:* ${progress.stage} · traffic: ${release.fromSlot} 100 %`);
    next = progress.next;
  } else {
    const weight =
      release.state === 'ramping' && release.canary
        ? (release.canary.steps[release.canary.stepIndex] ?? 0)
        : 100;
    lines.push(
      `*Stage:* ${plain(liveStatus(release, now.toISOString()))} · traffic: ${release.toSlot} ${weight} % / ${release.fromSlot} ${100 - weight} %`,
    );
    // A fleet: what each load balancer really sends, read at this tick.
    if (loadBalancers.length > 0) lines.push('*Load balancers:*', ...loadBalancers.map(escapeText));
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
      const hold = holdMinutesOf(release, config.canary.holdMinutes);
      const left = Math.max(0, Math.ceil(hold - inStage));
      const ring = release.canary.rings?.[release.canary.stepIndex];
      if (ring) lines.push(`*Ring:* ${ring.name}: ${ring.who}`);
      lines.push(`*Time in stage:* ${inStage} min · ${ring ? 'soak' : 'hold'} left: ${left} min`);
      const upcoming = stageLabel(release, release.canary.stepIndex + 1);
      next = release.paused
        ? 'Next: an approver clicks Resume or Abort'
        : release.canary.withoutEvidence !== undefined
          ? `Next: not enough evidence (${release.canary.withoutEvidence}); an approver clicks Promote anyway to ${upcoming} or Abort`
          : release.canary.awaitingPromotion
            ? `Next: an approver clicks Promote to ${upcoming}`
            : config.canary.autoPromote
              ? `Next: automatic promotion to ${upcoming} after the hold`
              : `Next: after the hold, an approver clicks Promote to ${upcoming}`;
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
  const checklist = checklistProgressLine(release);
  if (checklist !== undefined) lines.push(checklist);
  lines.push(next);
  const title = `:bar_chart: Progress · ${release.service} ${release.fromVersion} → ${release.version}`;
  return {
    text: plain(`${title}. ${lines.join(' ')}`),
    blocks: [section(`*${title}*`), section(lines.join('\n'))],
  };
}
