import type { DeployOutcome, DeployRequest } from '../../app/ports.ts';
import { runArgv } from '../process/run-argv.ts';

export interface CommandDeploySpec {
  readonly argv: readonly string[];
  readonly timeoutSeconds: number;
  readonly slotUrl: string;
  /** Working directory: relative commands (`./deploy.sh`) resolve from here. */
  readonly cwd: string;
  /** The command's whole environment, given the GREENLIGHT_* variables of this deploy. */
  readonly env: (step: Readonly<Record<string, string>>) => NodeJS.ProcessEnv;
  /** Removes secret values from the output before its tail is shown. */
  readonly redact?: (text: string) => string;
}

const TAIL_LINES = 20;
const TAIL_CHARS = 2000;

/** The last lines a deploy printed, for the failure message in Slack. */
export function tailOf(output: string): string {
  const lines = output.trimEnd().split('\n').slice(-TAIL_LINES).join('\n');
  return lines.length > TAIL_CHARS ? lines.slice(-TAIL_CHARS) : lines;
}

/**
 * Runs a deploy command as an argv, never through a shell, in a process group of its own so a
 * timeout, an abort of `request.signal` or the death of this process kills everything it
 * started. Nothing typed in Slack reaches it: only the validated service, version, slot and id,
 * as environment variables, on top of an allow-listed environment (see child-env.ts).
 */
export async function runDeployCommand(
  spec: CommandDeploySpec,
  request: DeployRequest,
): Promise<DeployOutcome> {
  const result = await runArgv(spec.argv, {
    cwd: spec.cwd,
    timeoutSeconds: spec.timeoutSeconds,
    label: 'deploy command',
    signal: request.signal,
    ...(spec.redact ? { redact: spec.redact } : {}),
    env: spec.env({
      GREENLIGHT_SERVICE: request.service,
      GREENLIGHT_VERSION: request.version,
      GREENLIGHT_SLOT: request.slot,
      GREENLIGHT_SLOT_URL: spec.slotUrl,
      GREENLIGHT_RELEASE_ID: request.releaseId,
    }),
  });
  if (result.ok) return { ok: true };
  const reason = result.reason.startsWith('deploy command not found')
    ? `${result.reason} (check deploy.command in greenlight.yml)`
    : result.reason;
  return { ok: false, reason, outputTail: tailOf(result.output) };
}
