import { spawn } from 'node:child_process';

export interface ArgvResult {
  readonly ok: boolean;
  /** Why it failed, in words: exit code, signal, timeout, or could not start. */
  readonly reason: string;
  readonly output: string;
}

/**
 * Runs an argv without a shell, in a process group of its own so a timeout kills everything it
 * started. Keeps the last 32 KB of combined output.
 */
export function runArgv(
  argv: readonly string[],
  options: { env: NodeJS.ProcessEnv; cwd: string; timeoutSeconds: number; label: string },
): Promise<ArgvResult> {
  const [program, ...args] = argv;
  if (program === undefined)
    return Promise.resolve({ ok: false, reason: `no ${options.label} configured`, output: '' });
  return new Promise((resolve) => {
    let output = '';
    let settled = false;
    const finish = (result: ArgvResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    const child = spawn(program, args, {
      cwd: options.cwd,
      shell: false,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: options.env,
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
        reason: `${options.label} timed out after ${options.timeoutSeconds} s and was killed`,
        output,
      });
    }, options.timeoutSeconds * 1000);
    child.on('error', (error: NodeJS.ErrnoException) => {
      const reason =
        error.code === 'ENOENT'
          ? `${options.label} not found: ${program}`
          : error.code === 'EACCES'
            ? `${options.label} is not executable: ${program}`
            : `${options.label} could not start: ${error.message}`;
      finish({ ok: false, reason, output: '' });
    });
    child.on('close', (code, signal) => {
      if (code === 0) finish({ ok: true, reason: '', output });
      else
        finish({
          ok: false,
          reason: signal
            ? `${options.label} was killed by ${signal}`
            : `${options.label} exited with code ${code}`,
          output,
        });
    });
  });
}
