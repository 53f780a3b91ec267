import type { ModalView } from '@slack/types';
import type { IncidentLink, ReminderStage } from '../../../app/comms-ports.ts';
import type { Release } from '../../../domain/release.ts';
import type { NoticeKind } from '../../../domain/release-comms.ts';
import { THREAD_LINK } from './alerts.ts';
import {
  button,
  context,
  escapeText,
  plain,
  plainText,
  type SlackMessage,
  section,
} from './block-kit.ts';

// What stakeholder channels (`comms.channels`) see: one notice when traffic starts to move, one
// when the release ends, and after a rollback the incident-report reminder with its button.

/** action_id of the reminder's button; `release_` so the unknown-button listener leaves it be. */
export const INCIDENT_LINK_ACTION = 'release_incident_link';
/** callback_id of the modal that asks for the incident report's address. */
export const INCIDENT_LINK_MODAL = 'release_incident_link_modal';

const formatUtc = (iso: string) =>
  `${new Date(iso).toISOString().slice(0, 16).replace('T', ' ')} UTC`;

function who(user: string): string {
  return user === 'greenlight' ? 'Greenlight (automatic)' : `<@${user}>`;
}

/** Rings name their audiences: an audience ring's weight (0 %) would read as "no one". */
function canaryWords(release: Release): string {
  const rings = release.canary?.rings;
  if (rings !== undefined && rings.length > 0)
    return `rings, one audience after another: ${rings.map((r) => `${r.name} (${escapeText(r.who)})`).join(' → ')}`;
  return `a canary, ${release.canary?.steps.join(' → ') ?? ''} % of traffic in steps`;
}

export function stakeholderNotice(release: Release, kind: NoticeKind): SlackMessage {
  const change = `${release.service} ${release.fromVersion} → ${release.version} (${release.type})`;
  const thread = `<${THREAD_LINK}|Release thread>`;
  switch (kind) {
    case 'started': {
      const how = release.strategy === 'canary' ? canaryWords(release) : 'a blue/green switch';
      const text = `:rocket: *Release started:* ${change}, as ${how}.`;
      return {
        text: plain(`Release started: ${change}`),
        blocks: [
          section(text),
          context(
            `Requested by ${who(release.requester)}${release.approvals.length ? `, approved by ${release.approvals.map((a) => who(a.user)).join(', ')}` : ''} · ${thread}`,
          ),
        ],
      };
    }
    case 'released':
      return {
        text: plain(`Released: ${release.service} ${release.version} is live`),
        blocks: [
          section(
            `:white_check_mark: *Released:* ${release.service} ${release.version} is live (was ${release.fromVersion}).`,
          ),
          context(
            `${release.releasedAt ? `Traffic moved ${formatUtc(release.releasedAt)} · ` : ''}${thread}`,
          ),
        ],
      };
    case 'rolled_back': {
      const rollback = release.rollback;
      return {
        text: plain(
          `Rolled back: ${release.service} is back on ${release.fromVersion} (${release.version} withdrawn)`,
        ),
        blocks: [
          section(
            `:rewind: *Rolled back:* ${release.service} is back on ${release.fromVersion}; ${release.version} was withdrawn.\n*Reason:* ${escapeText(rollback?.reason ?? 'none given')}`,
          ),
          context(
            `${rollback ? `By ${who(rollback.by)} at ${formatUtc(rollback.at)} · ` : ''}${thread}`,
          ),
        ],
      };
    }
    case 'failed':
      return {
        text: plain(`Release stopped: ${release.service} stays on ${release.fromVersion}`),
        blocks: [
          section(
            `:warning: *Release stopped:* ${change} did not complete; ${release.service} stays on ${release.fromVersion}.\n*Why:* ${escapeText(release.failure ?? 'unknown')}`,
          ),
          context(thread),
        ],
      };
  }
}

/**
 * After a rollback: file an incident report and hold a retro by `due`. Redrawn in place when the
 * link is recorded (shown, with who) and when the deadline passes without one.
 */
export function incidentReminder(
  release: Release,
  stage: ReminderStage,
  due: Date,
  link?: IncidentLink,
): SlackMessage {
  const rolledBack = `${release.service} ${release.version} (rolled back to ${release.fromVersion})`;
  const dueText = formatUtc(due.toISOString());
  const owners = [release.requester, ...release.approvals.map((a) => a.user)]
    .filter((u, i, all) => u !== 'greenlight' && all.indexOf(u) === i)
    .map((u) => `<@${u}>`)
    .join(' ');
  const headline =
    link !== undefined
      ? `:memo: *Incident report recorded* for ${rolledBack}.`
      : stage === 'overdue'
        ? `:alarm_clock: *Incident report overdue* for ${rolledBack}: it was due ${dueText}.`
        : `:memo: *Incident report and retro due* for ${rolledBack} by ${dueText}.`;
  const detail =
    link !== undefined
      ? `*Report:* <${link.url}|${escapeText(new URL(link.url).host)}> · recorded by <@${link.by}> ${formatUtc(link.at)}`
      : `File the incident report and hold the retro, then record its link here. ${owners}`;
  return {
    text: plain(
      link !== undefined
        ? `Incident report recorded for ${rolledBack}: ${link.url}`
        : `Incident report ${stage === 'overdue' ? 'overdue' : 'due'} for ${rolledBack} (due ${dueText})`,
    ),
    blocks: [
      section(headline),
      section(detail),
      {
        type: 'actions',
        elements: [
          button(
            INCIDENT_LINK_ACTION,
            link !== undefined ? 'Change incident link' : 'Record incident link',
            release.id,
            link !== undefined ? {} : { style: 'primary' },
          ),
        ],
      },
    ],
  };
}

/**
 * The modal behind the reminder's button: the incident report's address, checked on submit.
 * It carries the link recorded when it opened (`base`), so a submit cannot overwrite a link
 * someone recorded meanwhile, and it shows that link, whatever the clicked button said.
 */
export function incidentLinkModal(
  release: Release,
  channel: string,
  current?: IncidentLink | null,
): ModalView {
  return {
    type: 'modal',
    callback_id: INCIDENT_LINK_MODAL,
    private_metadata: JSON.stringify({ releaseId: release.id, channel, base: current?.at ?? null }),
    title: plainText('Incident report'),
    submit: plainText('Record'),
    close: plainText('Cancel'),
    blocks: [
      section(
        `Link the incident report of the rollback of *${release.service} ${release.version}*.${
          current
            ? `\nRecorded now: <${current.url}|${escapeText(new URL(current.url).host)}> by <@${current.by}>; a new link replaces it.`
            : ''
        }`,
      ),
      {
        type: 'input',
        block_id: 'incident',
        label: plainText('Incident report link'),
        element: {
          type: 'url_text_input',
          action_id: 'url_input',
          placeholder: plainText('https://'),
        },
      },
    ],
  };
}
