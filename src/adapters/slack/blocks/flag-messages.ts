import type { FlagNotice } from '../../../app/ports.ts';
import { describeFlagState } from '../../../domain/flags.ts';
import { THREAD_LINK } from './alerts.ts';
import { escapeText, plain, type SlackMessage, section } from './block-kit.ts';

/** `/flag` in a channel: who set which flag to what, and why. */
export function flagMessage(notice: FlagNotice, inAlerts: boolean): SlackMessage {
  const off = notice.percent === 0;
  const icon = off ? ':octagonal_sign:' : ':triangular_flag_on_post:';
  const head = off
    ? `${icon} *[FLAG OFF]* ${notice.service}: ${notice.flag} turned off (${notice.environment})`
    : `${icon} ${notice.service}: ${notice.flag} ${describeFlagState(notice.percent)} (${notice.environment})`;
  const lines = [
    `*Who:* <@${notice.by}>`,
    `*Reason:* ${escapeText(notice.reason ?? 'none given')}`,
    ...(inAlerts && notice.release
      ? [
          `*Release:* ${notice.release.version} · <${THREAD_LINK}|Release thread>`,
          'Traffic was not moved: to roll back the release too, `/rollback ' +
            `${notice.service} <reason>\``,
        ]
      : []),
  ];
  return {
    text: plain(
      `${off ? '[FLAG OFF] ' : ''}${notice.service}: ${notice.flag} ${describeFlagState(notice.percent)} (${notice.environment}) by <@${notice.by}>. Reason: ${escapeText(notice.reason ?? 'none given')}`,
    ),
    blocks: [section(head), section(lines.join('\n'))],
  };
}
