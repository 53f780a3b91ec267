import type { Release } from './release.ts';

/**
 * A step a service declares before the switch (a migration): run in declared order once the
 * release is approved and before any traffic moves. Copied into the release when it is
 * requested, so a config change mid-release changes nothing about what was approved.
 */
export interface PreSwitchStep {
  readonly name: string;
  /** The button text of an irreversible step's approval. */
  readonly label: string;
  /** false: it cannot be undone; it needs its own approval and is never run twice by itself. */
  readonly reversible: boolean;
  /** The role whose member (never the requester) approves an irreversible step. */
  readonly approverRole?: string;
  /** The runbook that undoes its effect on the data layer by hand. */
  readonly compensation?: string;
  /** Who is told when the data layer needs the runbook (a Slack user or group id). */
  readonly owner?: string;
  readonly timeoutSeconds: number;
  readonly approvedBy?: string;
  /** When it became the current step: deadlines count from here. */
  readonly readyAt?: string;
  /** Recorded before the command runs: a step started and never finished was interrupted. */
  readonly startedAt?: string;
  readonly finishedAt?: string;
  /**
   * An irreversible step found started and never finished (a crash or restart while it ran):
   * Greenlight does not run it again, and waits for a person to say whether it completed.
   */
  readonly interruptedAt?: string;
}

/** The first step not yet finished, by index, or undefined when all are done (or none exist). */
export function currentStepIndex(release: Release): number | undefined {
  const index = (release.steps ?? []).findIndex((s) => s.finishedAt === undefined);
  return index < 0 ? undefined : index;
}

export function currentStep(release: Release): PreSwitchStep | undefined {
  const index = currentStepIndex(release);
  return index === undefined ? undefined : release.steps?.[index];
}

/** An irreversible step nobody approved yet: it waits for a person, not a worker. */
export function awaitsApproval(step: PreSwitchStep): boolean {
  return !step.reversible && step.approvedBy === undefined;
}

/** An irreversible step cut off while it ran: it waits for a person to say whether it completed. */
export function awaitsWord(step: PreSwitchStep): boolean {
  return step.interruptedAt !== undefined && step.finishedAt === undefined;
}

/** Irreversible steps that started (finished or not): the data layer may have changed. */
export function dataTouched(release: Release): PreSwitchStep[] {
  return (release.steps ?? []).filter((s) => !s.reversible && s.startedAt !== undefined);
}

/** Mentions for a Slack principal: a user (`<@U…>`) or a user group. */
export function mention(principal: string): string {
  return principal.startsWith('S') ? `<!subteam^${principal}>` : `<@${principal}>`;
}

/**
 * "migrate (compensation runbook https://…, owner <@U…>)": what a person must do about the data,
 * as plain text for timelines and failures (the Slack blocks draw the link themselves).
 */
export function compensationText(steps: readonly PreSwitchStep[]): string {
  return steps
    .map((s) => {
      const parts = [
        s.compensation ? `compensation runbook ${s.compensation}` : undefined,
        s.owner ? `owner ${mention(s.owner)}` : undefined,
      ].filter(Boolean);
      return `${s.name}${parts.length > 0 ? ` (${parts.join(', ')})` : ''}`;
    })
    .join('; ');
}

/** ". The data layer is not rolled back: …" once an irreversible step started, else "". */
export function dataLayerNote(release: Release): string {
  const touched = dataTouched(release);
  return touched.length === 0
    ? ''
    : `. The data layer is not rolled back: ${compensationText(touched)}`;
}

/** The stage suffix of a step's approval button: which step, at which revision. */
export function stepStage(release: Release): string {
  return `${release.state}.s${currentStepIndex(release) ?? 0}.r${release.revision}`;
}
