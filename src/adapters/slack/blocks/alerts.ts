import type { ServiceConfig } from '../../../config/greenlight-schema.ts';
import { describeReading, readEvidence } from '../../../domain/analysis.ts';
import { describeEvidence } from '../../../domain/error-judge.ts';
import { flagsLeftOn } from '../../../domain/flags.ts';
import type { Release } from '../../../domain/release.ts';
import { escapeText, plain, type SlackMessage, section } from './block-kit.ts';
import { dataLayerLines } from './step-blocks.ts';

/** Replaced by the outbox with a link to the release's thread once its parent is posted. */
export const THREAD_LINK = '{{thread_link}}';

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
    ...flagSteps(release, statusText),
    `*Who:* ${who}${rollback?.approvedBy ? ` (approved by <@${rollback.approvedBy}>)` : ''}`,
    ...(rollback?.flags?.length || flagsLeftOn(release.flags).length
      ? []
      : [`*Status:* ${statusText}`]),
    ...dataLayerLines(release, status),
    // Nobody is paged by "automatic": the people behind the release are.
    `*Release by:* <@${release.requester}>${release.approvals.length ? ` · *approved by:* ${release.approvals.map((a) => `<@${a.user}>`).join(', ')}` : ''}`,
    `*Links:* ${links.join(' · ')}`,
  ];
  return {
    text: plain(
      `${headline.replace(/^:[a-z_]+: /, '')}: ${release.service} back to ${release.fromVersion} (${release.fromSlot}). Reason: ${escapeText(rollback?.reason ?? 'none given')}${dataLayerLines(release, status).length > 0 ? '. The data layer is not rolled back: it needs the compensation runbook' : ''}`,
    ),
    blocks: [section(`*${headline}*`), section(facts.join('\n'))],
  };
}

export function driftMessage(detail: string): SlackMessage {
  const text = `:warning: Traffic drift: ${escapeText(detail)}`;
  return { text: plain(text), blocks: [section(text)] };
}

export function adoptedMessage(detail: string): SlackMessage {
  const text = `:information_source: State adopted from the proxy: ${escapeText(detail)}`;
  return { text: plain(text), blocks: [section(text)] };
}

/**
 * With flags, the alert lists the rollback's two steps in order, each with its outcome: the flags
 * turned off first (the mitigation), then traffic.
 */
function flagSteps(release: Release, trafficStatus: string): string[] {
  const outcomes = release.rollback?.flags;
  const left = flagsLeftOn(release.flags);
  if (!outcomes?.length && left.length === 0) return [];
  const flags = outcomes?.length
    ? outcomes
        .map((o) =>
          o.ok
            ? `${o.name} off :white_check_mark:`
            : `${o.name} NOT changed :x: (${escapeText(o.detail)})`,
        )
        .join(', ')
    : `turning off ${left.map((f) => f.name).join(', ')}`;
  return [`*Step 1, flags:* ${flags}`, `*Step 2, traffic:* ${trafficStatus}`];
}
