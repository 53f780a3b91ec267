import type { Deployer, DeployOutcome, DeployRequest } from '../../app/ports.ts';
import type { ServiceRuns } from '../process/service-runs.ts';
import { runDeployCommand } from './command-deployer.ts';
import { callDeployWebhook } from './webhook-deployer.ts';

/**
 * Picks each service's deploy driver from greenlight.yml: a command or a webhook. `env` is
 * Greenlight's own environment: webhook secrets are read from it, and a deploy command gets only
 * its allow-listed part; what either prints is shown with every configured secret removed.
 */
export class ConfiguredDeployer implements Deployer {
  private readonly runs: ServiceRuns;

  constructor(runs: ServiceRuns) {
    this.runs = runs;
  }

  async deploy(request: DeployRequest): Promise<DeployOutcome> {
    const config = this.runs.services[request.service];
    if (config === undefined)
      return { ok: false, reason: `unknown service ${request.service}`, outputTail: '' };
    const slotUrl = config.slots[request.slot].url;
    const deploy = config.deploy;
    if ('command' in deploy) {
      return runDeployCommand(
        {
          argv: deploy.command,
          timeoutSeconds: deploy.timeoutSeconds,
          slotUrl,
          cwd: this.runs.cwd,
          env: (step) => this.runs.children.for(request.service, step),
          redact: this.runs.redact,
        },
        request,
      );
    }
    const secret = this.runs.env[deploy.webhook.secretEnv];
    if (secret === undefined || secret === '') {
      return {
        ok: false,
        reason: `deploy webhook secret ${deploy.webhook.secretEnv} is not set in Greenlight's environment`,
        outputTail: '',
      };
    }
    const outcome = await callDeployWebhook(
      { url: deploy.webhook.url, secret, timeoutSeconds: deploy.timeoutSeconds, slotUrl },
      request,
      this.runs.dispatcher,
    );
    // A receiver may echo what it was sent or its own configuration: shown redacted too.
    return outcome.ok ? outcome : { ...outcome, outputTail: this.runs.redact(outcome.outputTail) };
  }
}
