import type { InputBlock, ModalView } from '@slack/types';
import type { Release } from '../../../domain/release.ts';
import { escapeText, plainText, section } from './block-kit.ts';

/** callback_id of the modal that asks why a release is rejected. */
export const REJECT_MODAL = 'release_reject_reason';

/** The modal that asks why a release is rejected; the reason is recorded and shown. */
export function rejectModal(release: Release, channel: string, stage?: string): ModalView {
  return {
    type: 'modal',
    callback_id: REJECT_MODAL,
    private_metadata: JSON.stringify({
      releaseId: release.id,
      channel,
      ...(stage ? { stage } : {}),
    }),
    title: plainText('Reject release'),
    submit: plainText('Reject'),
    close: plainText('Cancel'),
    blocks: [
      section(
        `Reject *${release.service} ${release.version}*? ${release.service} stays on ${release.fromVersion}.`,
      ),
      reasonInput('Why?'),
    ],
  };
}

/** The one field both modals have: why, read back as `reason.reason_input`. */
function reasonInput(label: string): InputBlock {
  return {
    type: 'input',
    block_id: 'reason',
    label: plainText(label),
    element: {
      type: 'plain_text_input',
      action_id: 'reason_input',
      multiline: true,
      min_length: 3,
      max_length: 500,
    },
  };
}

/** callback_id of the modal that asks why before a rollback that must redeploy. */
export const ROLLBACK_REASON_MODAL = 'rollback_reason';

/** Where the form was opened, carried through Slack unchanged (signed on the way back). */
export interface RollbackReasonMeta {
  readonly service: string;
  readonly channel: string;
}

/**
 * The one question a rollback that must redeploy asks before acting: why. Submitting is the
 * confirmation; Cancel changes nothing.
 */
export function rollbackReasonModal(meta: RollbackReasonMeta, why: string): ModalView {
  return {
    type: 'modal',
    callback_id: ROLLBACK_REASON_MODAL,
    private_metadata: JSON.stringify(meta),
    title: plainText('Roll back'),
    submit: plainText('Roll back now'),
    close: plainText('Cancel'),
    blocks: [
      section(`${escapeText(why)} Nothing happens until you submit.`),
      reasonInput(`Why roll back ${meta.service}?`),
    ],
  };
}

export function readRollbackReasonMeta(text: string): RollbackReasonMeta | null {
  try {
    const meta = JSON.parse(text) as Partial<RollbackReasonMeta>;
    return typeof meta.service === 'string' && typeof meta.channel === 'string'
      ? { service: meta.service, channel: meta.channel }
      : null;
  } catch {
    return null;
  }
}
