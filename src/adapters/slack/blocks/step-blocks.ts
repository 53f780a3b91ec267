import type { KnownBlock } from '@slack/types';
import { stepFenceValue } from '../../../domain/click-fence.ts';
import {
  awaitsApproval,
  awaitsWord,
  currentStep,
  dataTouched,
  mention,
  type PreSwitchStep,
} from '../../../domain/pre-switch-steps.ts';
import type { Release } from '../../../domain/release.ts';
import { button, section } from './block-kit.ts';

/** action_id of an irreversible step's own approval button. */
export const STEP_APPROVE_ACTION = 'release_step_approve';
/** action_ids of the word on an irreversible step that was cut off while it ran. */
export const STEP_COMPLETED_ACTION = 'release_step_completed';
export const STEP_NOT_COMPLETED_ACTION = 'release_step_not_completed';

const runbook = (s: PreSwitchStep) =>
  s.compensation ? `<${s.compensation}|${s.name} compensation runbook>` : 'no runbook configured';
const owner = (s: PreSwitchStep) => (s.owner ? ` · owner ${mention(s.owner)}` : '');

/** Which layer a rollback restores, and how: traffic, artifact, data. */
function rollbackPlan(release: Release): string {
  const irreversible = (release.steps ?? []).filter((s) => !s.reversible);
  const data =
    irreversible.length === 0
      ? `• *Data:* every step is reversible (${(release.steps ?? []).map((s) => s.name).join(', ')})`
      : irreversible
          .map((s) => `• *Data:* ${s.name} cannot be undone: ${runbook(s)}${owner(s)}`)
          .join('\n');
  return [
    '*Rollback plan*',
    `• *Traffic:* instant, back to ${release.fromSlot} (${release.fromVersion})`,
    `• *Artifact:* redeploy ${release.fromVersion} onto ${release.fromSlot} if it no longer runs it`,
    data,
  ].join('\n');
}

function stepLine(s: PreSwitchStep, roles: Readonly<Record<string, readonly string[]>>): string {
  if (s.finishedAt) return `:white_check_mark: ${s.name}: done`;
  if (awaitsWord(s)) {
    const who = (roles[s.approverRole ?? ''] ?? []).map(mention).join(' ');
    return `:warning: ${s.name}: cut off while it ran (a crash or restart). Greenlight does not run it again: someone in ${s.approverRole}${who ? ` · ${who}` : ''} (not the requester) checks whether it completed and says so below`;
  }
  if (s.startedAt) return `:gear: ${s.name}: running${s.reversible ? '' : ' (cannot be undone)'}`;
  if (awaitsApproval(s)) {
    const who = (roles[s.approverRole ?? ''] ?? []).map(mention).join(' ');
    return `:raised_hand: ${s.name}: cannot be undone, needs approval from ${s.approverRole}${who ? ` · ${who}` : ''} (not the requester)`;
  }
  return `:hourglass: ${s.name}: ${s.approvedBy ? `approved by <@${s.approvedBy}>, ` : ''}waiting to run`;
}

/**
 * The steps before the switch on the release card: each step's progress while they run, the
 * approval button of an irreversible step (its own, drawn for that step at that revision), and
 * the rollback plan by layer. Nothing for a service without steps.
 */
export function stepBlocks(
  release: Release,
  roles: Readonly<Record<string, readonly string[]>> = {},
): KnownBlock[] {
  if (release.steps === undefined || release.steps.length === 0) return [];
  const blocks: KnownBlock[] = [];
  if (release.state === 'running_steps') {
    blocks.push(
      section(`*Before the switch*\n${release.steps.map((s) => stepLine(s, roles)).join('\n')}`),
    );
    const step = currentStep(release);
    if (step !== undefined && awaitsWord(step)) {
      blocks.push({
        type: 'actions',
        block_id: 'release_step_word',
        elements: [
          button(STEP_COMPLETED_ACTION, `${step.name} completed: go on`, stepFenceValue(release), {
            style: 'primary',
            confirm: {
              title: `Did ${step.name} complete?`,
              text: `Go on only if you checked that ${step.name} completed. Greenlight does not run it again; the release continues from the next step.`,
              ok: 'It completed',
            },
          }),
          button(
            STEP_NOT_COMPLETED_ACTION,
            `${step.name} did not complete`,
            stepFenceValue(release),
            {
              style: 'danger',
              confirm: {
                title: `Stop ${release.service} ${release.version}?`,
                text: `The release fails before any traffic moves. If ${step.name} changed some data, the compensation runbook undoes it.`,
                ok: 'Stop the release',
              },
            },
          ),
        ],
      });
    }
    if (step !== undefined && awaitsApproval(step)) {
      blocks.push({
        type: 'actions',
        block_id: 'release_step',
        elements: [
          button(STEP_APPROVE_ACTION, step.label, stepFenceValue(release), {
            style: 'danger',
            confirm: {
              title: `Run ${step.name}?`,
              text: `${step.name} cannot be undone. If ${release.service} ${release.version} is rolled back later, traffic and artifact go back but the data needs the compensation runbook.`,
              ok: 'Run it',
            },
          }),
        ],
      });
    }
  }
  blocks.push(section(rollbackPlan(release)));
  return blocks;
}

/**
 * For the rollback alert: after an irreversible step ran, which layers the rollback restores
 * and which one is left to people (the runbook, linked, and the step's owner).
 */
export function dataLayerLines(
  release: Release,
  status: 'in_progress' | 'done' | 'failed',
): string[] {
  const touched = dataTouched(release);
  if (touched.length === 0) return [];
  const verb =
    status === 'done'
      ? 'rolled back'
      : status === 'failed'
        ? 'NOT rolled back (the rollback failed)'
        : 'rolling back';
  return [
    `*Traffic:* ${verb} (instant)`,
    `*Artifact:* ${verb} (${release.fromVersion} on ${release.fromSlot})`,
    ...touched.map(
      (s) =>
        `*Data:* NOT rolled back: ${s.name} cannot be undone${s.approvedBy ? ` (run on <@${s.approvedBy}>'s approval)` : ''}. Follow the ${runbook(s)}${owner(s)}`,
    ),
  ];
}

/** The progress reply while steps run: which step, and who or what moves it on. */
export function stepProgress(release: Release): { stage: string; next: string } {
  const step = currentStep(release);
  if (step === undefined)
    return { stage: 'steps before the switch done', next: 'Next: traffic switches' };
  const stage = `step ${step.name} before the switch${step.reversible ? '' : ' (cannot be undone)'}`;
  if (awaitsWord(step))
    return {
      stage: `${stage}, cut off while it ran`,
      next: `Next: someone in ${step.approverRole} (not the requester) checks whether it completed and clicks "${step.name} completed: go on" or "${step.name} did not complete"`,
    };
  if (awaitsApproval(step))
    return {
      stage: `${stage}, waiting for its approval`,
      next: `Next: someone in ${step.approverRole} (not the requester) clicks "${step.label}"`,
    };
  return {
    stage: `${stage}, ${step.startedAt ? 'running' : 'about to run'}`,
    next: 'Next: traffic switches once every step has finished',
  };
}
