import type { DeployOutcome, PreSwitchStepRequest, StepCommandRunner } from '../../app/ports.ts';
import { runArgv } from '../process/run-argv.ts';
import type { ServiceRuns } from '../process/service-runs.ts';
import { tailOf } from './command-deployer.ts';

/**
 * Runs a service's `steps.<name>.command` exactly as a deploy command runs: an argv without a
 * shell, in its own process group (killed on timeout or when Greenlight dies), with the
 * allow-listed environment, the deploy step's GREENLIGHT_* variables plus GREENLIGHT_STEP, and
 * output shown with every configured secret removed. Nothing typed in Slack reaches it.
 */
export class ConfiguredStepRunner implements StepCommandRunner {
  private readonly runs: ServiceRuns;

  constructor(runs: ServiceRuns) {
    this.runs = runs;
  }

  async run(request: PreSwitchStepRequest): Promise<DeployOutcome> {
    const config = this.runs.services[request.service];
    const step = config?.steps?.[request.step];
    if (config === undefined || step === undefined)
      return {
        ok: false,
        reason: `step ${request.step} is no longer in greenlight.yml for ${request.service}`,
        outputTail: '',
      };
    const result = await runArgv(step.command, {
      cwd: this.runs.cwd,
      timeoutSeconds: step.timeoutSeconds,
      label: `step ${request.step}`,
      redact: this.runs.redact,
      env: this.runs.children.for(request.service, {
        GREENLIGHT_SERVICE: request.service,
        GREENLIGHT_VERSION: request.version,
        GREENLIGHT_SLOT: request.slot,
        GREENLIGHT_SLOT_URL: config.slots[request.slot].url,
        GREENLIGHT_RELEASE_ID: request.releaseId,
        GREENLIGHT_STEP: request.step,
      }),
    });
    if (result.ok) return { ok: true };
    const reason = result.reason.startsWith(`step ${request.step} not found`)
      ? `${result.reason} (check steps.${request.step}.command in greenlight.yml)`
      : result.reason;
    return { ok: false, reason, outputTail: tailOf(result.output) };
  }
}
