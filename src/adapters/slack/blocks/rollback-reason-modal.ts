import { escapeText, section } from './block-kit.ts';

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
export function rollbackReasonModal(meta: RollbackReasonMeta, why: string) {
  return {
    type: 'modal' as const,
    callback_id: ROLLBACK_REASON_MODAL,
    private_metadata: JSON.stringify(meta),
    title: { type: 'plain_text' as const, text: 'Roll back' },
    submit: { type: 'plain_text' as const, text: 'Roll back now' },
    close: { type: 'plain_text' as const, text: 'Cancel' },
    blocks: [
      section(`${escapeText(why)} Nothing happens until you submit.`),
      {
        type: 'input' as const,
        block_id: 'reason',
        label: { type: 'plain_text' as const, text: `Why roll back ${meta.service}?` },
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
