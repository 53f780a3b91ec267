import type { ServiceConfig } from '../config/greenlight-schema.ts';
import {
  awaitsApproval,
  awaitsWord,
  currentStep,
  currentStepIndex,
  type PreSwitchStep,
} from '../domain/pre-switch-steps.ts';
import type { Release } from '../domain/release.ts';
import type { StepJob } from './ports.ts';

/**
 * The job of a release's current pre-switch step, when one may run now (not waiting for its
 * approval, nor for a person's word after it was cut off). Derived from the stored release only, so the runner and the sweeper name the same
 * job and a step is enqueued once per readiness.
 */
export function preSwitchJob(release: Release): StepJob | undefined {
  if (release.state !== 'running_steps') return undefined;
  const index = currentStepIndex(release);
  const step = currentStep(release);
  if (index === undefined || step === undefined || awaitsApproval(step) || awaitsWord(step))
    return undefined;
  return {
    step: 'pre_switch',
    releaseId: release.id,
    index,
    attempt: Date.parse(step.readyAt ?? release.stateSince ?? release.updatedAt),
  };
}

/** A service's `steps` as a release records them, in declared order, nothing run yet. */
export function plannedSteps(config: ServiceConfig): PreSwitchStep[] | undefined {
  const steps = Object.entries(config.steps ?? {}).map(([name, s]) => ({
    name,
    label: s.label ?? `Run ${name} (cannot be undone)`,
    reversible: s.reversible,
    timeoutSeconds: s.timeoutSeconds,
    ...(s.approverRole !== undefined ? { approverRole: s.approverRole } : {}),
    ...(s.compensation !== undefined ? { compensation: s.compensation } : {}),
    ...(s.owner !== undefined ? { owner: s.owner } : {}),
  }));
  return steps.length > 0 ? steps : undefined;
}

/** The dry run's line for the steps a release would run before the switch. */
export function stepsPlanLine(steps: readonly PreSwitchStep[]): string {
  const each = steps.map((s) =>
    s.reversible
      ? `${s.name} (reversible)`
      : `${s.name} (cannot be undone: its own approval from ${s.approverRole}, never the requester; compensation ${s.compensation})`,
  );
  return `Steps after the approvals, before traffic moves, in order: ${each.join(', ')}.`;
}
