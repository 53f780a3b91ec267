import { spawn } from 'node:child_process';
import type { DeployOutcome, DeployRequest } from '../../app/ports.ts';

export interface CommandDeploySpec {
  readonly argv: readonly string[];
  readonly timeoutSeconds: number;
  readonly slotUrl: string;
  /** Working directory: relative commands (`./deploy.sh`) resolve from here. */
  readonly cwd: string;
  /** The environment the deploy command inherits, before the GREENLIGHT_* variables. */
  readonly baseEnv: NodeJS.ProcessEnv;
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
 * timeout kills everything it started. Nothing typed in Slack reaches it: only the validated
 * service, version, slot and id, as environment variables.
 */
export function runDeployCommand(
  spec: CommandDeploySpec,
  request: DeployRequest,
): Promise<DeployOutcome> {
  const [program, ...args] = spec.argv;
  if (program === undefined)
    return Promise.resolve({ ok: false, reason: 'no deploy command configured', outputTail: '' });
  return new Promise((resolve) => {
    let output = '';
    let settled = false;
    const finish = (outcome: DeployOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(outcome);
    };
    const child = spawn(program, args, {
      cwd: spec.cwd,
      shell: false,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...spec.baseEnv,
        GREENLIGHT_SERVICE: request.service,
        GREENLIGHT_VERSION: request.version,
        GREENLIGHT_SLOT: request.slot,
        GREENLIGHT_SLOT_URL: spec.slotUrl,
        GREENLIGHT_RELEASE_ID: request.releaseId,
      },
    });
    const collect = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      if (output.length > 64_000) output = output.slice(-32_000);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    const timer = setTimeout(() => {
      if (child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          child.kill('SIGKILL');
        }
      }
      finish({
        ok: false,
        reason: `deploy command timed out after ${spec.timeoutSeconds} s and was killed`,
        outputTail: tailOf(output),
      });
    }, spec.timeoutSeconds * 1000);
    child.on('error', (error: NodeJS.ErrnoException) => {
      const reason =
        error.code === 'ENOENT'
          ? `deploy command not found: ${program} (check deploy.command in greenlight.yml)`
          : error.code === 'EACCES'
            ? `deploy command is not executable: ${program}`
            : `deploy command could not start: ${error.message}`;
      finish({ ok: false, reason, outputTail: '' });
    });
    child.on('close', (code, signal) => {
      if (code === 0) finish({ ok: true });
      else
        finish({
          ok: false,
          reason: signal
            ? `deploy command was killed by ${signal}`
            : `deploy command exited with code ${code}`,
          outputTail: tailOf(output),
        });
    });
  });
}
