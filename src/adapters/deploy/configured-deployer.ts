import type { Dispatcher } from 'undici';
import type { Deployer, DeployOutcome, DeployRequest } from '../../app/ports.ts';
import type { ServiceConfig } from '../../config/greenlight-schema.ts';
import { runDeployCommand } from './command-deployer.ts';
import { callDeployWebhook } from './webhook-deployer.ts';

/** Picks each service's deploy driver from greenlight.yml: a command or a webhook. */
export class ConfiguredDeployer implements Deployer {
  private readonly services: Readonly<Record<string, ServiceConfig>>;
  private readonly env: NodeJS.ProcessEnv;
  private readonly cwd: string;
  private readonly dispatcher: Dispatcher;

  constructor(
    services: Readonly<Record<string, ServiceConfig>>,
    env: NodeJS.ProcessEnv,
    cwd: string,
    dispatcher: Dispatcher,
  ) {
    this.services = services;
    this.env = env;
    this.cwd = cwd;
    this.dispatcher = dispatcher;
  }

  deploy(request: DeployRequest): Promise<DeployOutcome> {
    const config = this.services[request.service];
    if (config === undefined)
      return Promise.resolve({
        ok: false,
        reason: `unknown service ${request.service}`,
        outputTail: '',
      });
    const slotUrl = config.slots[request.slot].url;
    const deploy = config.deploy;
    if ('command' in deploy) {
      return runDeployCommand(
        {
          argv: deploy.command,
          timeoutSeconds: deploy.timeoutSeconds,
          slotUrl,
          cwd: this.cwd,
          baseEnv: this.env,
        },
        request,
      );
    }
    const secret = this.env[deploy.webhook.secretEnv];
    if (secret === undefined || secret === '') {
      return Promise.resolve({
        ok: false,
        reason: `deploy webhook secret ${deploy.webhook.secretEnv} is not set in Greenlight's environment`,
        outputTail: '',
      });
    }
    return callDeployWebhook(
      { url: deploy.webhook.url, secret, timeoutSeconds: deploy.timeoutSeconds, slotUrl },
      request,
      this.dispatcher,
    );
  }
}
