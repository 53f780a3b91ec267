import type { Dispatcher } from 'undici';
import type { Deployer, DeployOutcome, DeployRequest } from '../../app/ports.ts';
import type { ServiceConfig } from '../../config/greenlight-schema.ts';
import type { ChildEnvironments } from '../process/child-env.ts';
import { type ChildProcessGuards, childProcessGuards } from '../process/child-process-guards.ts';
import { runDeployCommand } from './command-deployer.ts';
import { callDeployWebhook } from './webhook-deployer.ts';

/**
 * Picks each service's deploy driver from greenlight.yml: a command or a webhook. `env` is
 * Greenlight's own environment: webhook secrets are read from it, and a deploy command gets only
 * its allow-listed part; what either prints is shown with every configured secret removed.
 */
export class ConfiguredDeployer implements Deployer {
  private readonly services: Readonly<Record<string, ServiceConfig>>;
  private readonly env: NodeJS.ProcessEnv;
  private readonly children: ChildEnvironments;
  private readonly redact: (text: string) => string;
  private readonly cwd: string;
  private readonly dispatcher: Dispatcher;

  constructor(
    services: Readonly<Record<string, ServiceConfig>>,
    env: NodeJS.ProcessEnv,
    cwd: string,
    dispatcher: Dispatcher,
    /** Built once by the composition root; tests may leave it out. */
    guards: ChildProcessGuards = childProcessGuards(env, services),
  ) {
    this.services = services;
    this.env = env;
    this.children = guards.children;
    this.redact = guards.redact;
    this.cwd = cwd;
    this.dispatcher = dispatcher;
  }

  async deploy(request: DeployRequest): Promise<DeployOutcome> {
    const config = this.services[request.service];
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
          cwd: this.cwd,
          env: (step) => this.children.for(request.service, step),
          redact: this.redact,
        },
        request,
      );
    }
    const secret = this.env[deploy.webhook.secretEnv];
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
      this.dispatcher,
    );
    // A receiver may echo what it was sent or its own configuration: shown redacted too.
    return outcome.ok ? outcome : { ...outcome, outputTail: this.redact(outcome.outputTail) };
  }
}
