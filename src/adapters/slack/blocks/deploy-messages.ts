import type { KnownBlock } from '@slack/types';
import type { DeployNotice } from '../../../app/ports.ts';
import { context, escapeCode, escapeText, plain, type SlackMessage, section } from './block-kit.ts';

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
  const blocks: KnownBlock[] = [section(text)];
  if (outcome.outputTail)
    blocks.push(section(`\`\`\`${escapeCode(outcome.outputTail).slice(-2800)}\`\`\``));
  blocks.push(context(`${what} · fix the cause, then \`/bump ${notice.service}\` again`));
  return { text: plain(text), blocks };
}
