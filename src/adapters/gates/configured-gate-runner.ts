import { request } from 'undici';
import type { GateResult, GateRunner } from '../../app/ports.ts';
import type { ServiceConfig } from '../../config/greenlight-schema.ts';
import type { Slot } from '../../domain/slots.ts';
import { tailOf } from '../deploy/command-deployer.ts';
import { runArgv } from '../process/run-argv.ts';
import type { ServiceRuns } from '../process/service-runs.ts';

type Gate = ServiceConfig['gates'][number];

/**
 * Pre-release gates as greenlight.yml describes them; each runs on its own and never throws.
 * `env` is Greenlight's own environment: `env` gates check names in it (never showing values),
 * command gates get only its allow-listed part, and their output is shown without secrets.
 */
export class ConfiguredGateRunner implements GateRunner {
  private readonly runs: ServiceRuns;

  constructor(runs: ServiceRuns) {
    this.runs = runs;
  }

  async run(service: string, context: { version: string; slot: Slot }): Promise<GateResult[]> {
    const config = this.runs.services[service];
    if (config === undefined) return [];
    const results = await Promise.all(
      config.gates.map((gate) => this.runGate(service, config, gate, context)),
    );
    // Every detail reaches Slack: whatever a gate answered, no configured secret goes with it.
    return results.map((result) => ({ ...result, detail: this.runs.redact(result.detail) }));
  }

  private async runGate(
    service: string,
    config: ServiceConfig,
    gate: Gate,
    context: { version: string; slot: Slot },
  ): Promise<GateResult> {
    const base = { name: gate.name, blocking: gate.blocking };
    switch (gate.type) {
      case 'http': {
        try {
          const res = await request(gate.url, {
            method: 'GET',
            dispatcher: this.runs.dispatcher,
            signal: AbortSignal.timeout(10_000),
          });
          await res.body.dump();
          return res.statusCode === gate.expectStatus
            ? { ...base, ok: true, detail: `${gate.url} answered ${res.statusCode}` }
            : {
                ...base,
                ok: false,
                detail: `${gate.url} answered ${res.statusCode}, expected ${gate.expectStatus}`,
              };
        } catch (error) {
          const e = error as { code?: string; name?: string; message?: string };
          return {
            ...base,
            ok: false,
            detail: `${gate.url} did not answer (${e.name === 'TimeoutError' ? 'timed out' : (e.code ?? e.message)})`,
          };
        }
      }
      case 'command': {
        const result = await runArgv(gate.command, {
          cwd: this.runs.cwd,
          timeoutSeconds: gate.timeoutSeconds,
          label: 'gate command',
          redact: this.runs.redact,
          env: this.runs.children.for(service, {
            GREENLIGHT_SERVICE: service,
            GREENLIGHT_VERSION: context.version,
            GREENLIGHT_SLOT: context.slot,
            GREENLIGHT_SLOT_URL: config.slots[context.slot].url,
          }),
        });
        const tail = tailOf(result.output).split('\n').slice(-3).join(' / ');
        return result.ok
          ? { ...base, ok: true, detail: 'exited 0' }
          : { ...base, ok: false, detail: `${result.reason}${tail ? `: ${tail}` : ''}` };
      }
      case 'env': {
        const missing = gate.variables.filter((name) => (this.runs.env[name] ?? '') === '');
        return missing.length === 0
          ? { ...base, ok: true, detail: `${gate.variables.join(', ')} set` }
          : { ...base, ok: false, detail: `not set: ${missing.join(', ')}` };
      }
    }
  }
}
