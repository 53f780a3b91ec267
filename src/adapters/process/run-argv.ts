import { spawn } from 'node:child_process';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SupervisorReport } from './argv-supervisor.ts';

export interface ArgvResult {
  readonly ok: boolean;
  /** Why it failed, in words: exit code, signal, timeout, cancellation, or could not start. */
  readonly reason: string;
  readonly output: string;
}

export interface RunArgvOptions {
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  readonly timeoutSeconds: number;
  /** Names the command in every reason: `deploy command timed out after …`. */
  readonly label: string;
  /** Aborting it kills the command's whole process group at once. */
  readonly signal?: AbortSignal;
  /**
   * Applied to the output before anyone sees it (secret values removed); applied to the whole
   * kept output, so a tail cut from it later cannot hold part of a secret.
   */
  readonly redact?: (text: string) => string;
}

// Same extension as this file: src/*.ts under Node's type stripping, dist/src/*.js once built.
const SUPERVISOR = fileURLToPath(
  new URL(`./argv-supervisor${extname(fileURLToPath(import.meta.url))}`, import.meta.url),
);

/** How long the supervisor waits for a heartbeat (ms); read by argv-supervisor.ts. */
const HEARTBEAT_VAR = 'GREENLIGHT_SUPERVISOR_HEARTBEAT_MS';

/** Process groups (supervisor pids) of the commands running now. */
const running = new Set<number>();

function killGroup(pgid: number): boolean {
  try {
    process.kill(-pgid, 'SIGKILL');
    return true;
  } catch {
    return false;
  }
}

/**
 * SIGKILLs every command this process is running, with everything they started: for a stop that
 * cannot wait (workers force-closed), so no command outlives the step that owned it. Returns how
 * many process groups were killed.
 */
export function killAllRunning(): number {
  let killed = 0;
  for (const pgid of running) if (killGroup(pgid)) killed += 1;
  return killed;
}

/** The supervisor's last report line, if it is one. */
function parseReport(text: string): SupervisorReport | undefined {
  const line = text.trim().split('\n').at(-1);
  if (!line) return undefined;
  try {
    const value: unknown = JSON.parse(line);
    if (value === null || typeof value !== 'object') return undefined;
    const r = value as Record<string, unknown>;
    if (typeof r.exit === 'number') return { exit: r.exit };
    if (typeof r.signal === 'string') return { signal: r.signal };
    if (typeof r.error === 'string')
      return { error: r.error, message: typeof r.message === 'string' ? r.message : r.error };
  } catch {
    // not a report: fall back on the supervisor's own exit
  }
  return undefined;
}

function startFailure(label: string, program: string, code: string, message: string): string {
  if (code === 'ENOENT') return `${label} not found: ${program}`;
  if (code === 'EACCES') return `${label} is not executable: ${program}`;
  return `${label} could not start: ${message}`;
}

/**
 * Runs an argv without a shell, in a process group of its own that dies with this process: a
 * small supervisor (argv-supervisor.ts) leads the group, runs the command in it and SIGKILLs the
 * group when this process goes away, even by SIGKILL. A timeout or an abort kills the group too.
 * Keeps the last 32 KB of combined output.
 */
export function runArgv(argv: readonly string[], options: RunArgvOptions): Promise<ArgvResult> {
  const { label, signal } = options;
  const [program] = argv;
  if (program === undefined)
    return Promise.resolve({ ok: false, reason: `no ${label} configured`, output: '' });
  if (signal?.aborted)
    return Promise.resolve({ ok: false, reason: `${label} was cancelled`, output: '' });
  return new Promise((resolve) => {
    let output = '';
    let reportText = '';
    let settled = false;
    const child = spawn(process.execPath, [SUPERVISOR, ...argv], {
      cwd: options.cwd,
      shell: false,
      // The supervisor leads a new process group: -pid reaches the command and its children.
      detached: true,
      // stdin: heartbeats; their end tells the supervisor this process died. fd 3: report.
      stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
      // The supervisor's own knob travels beside the command's environment; it removes it
      // before starting the command.
      env: process.env[HEARTBEAT_VAR]
        ? { ...options.env, [HEARTBEAT_VAR]: process.env[HEARTBEAT_VAR] }
        : options.env,
    });
    const pgid = child.pid;
    if (pgid !== undefined) running.add(pgid);
    // The supervisor's proof that this process still runs (see argv-supervisor.ts).
    const heartbeat = setInterval(() => {
      if (child.stdin?.writable) child.stdin.write('.');
    }, 1000);
    heartbeat.unref();

    const kill = () => {
      if (pgid !== undefined && !killGroup(pgid)) child.kill('SIGKILL');
    };
    const onAbort = () => {
      kill();
      finish({ ok: false, reason: `${label} was cancelled`, output });
    };
    const timer = setTimeout(() => {
      kill();
      finish({
        ok: false,
        reason: `${label} timed out after ${options.timeoutSeconds} s and was killed`,
        output,
      });
    }, options.timeoutSeconds * 1000);
    const finish = (result: ArgvResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearInterval(heartbeat);
      signal?.removeEventListener('abort', onAbort);
      resolve(options.redact ? { ...result, output: options.redact(result.output) } : result);
    };
    signal?.addEventListener('abort', onAbort, { once: true });

    const collect = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      if (output.length > 64_000) output = output.slice(-32_000);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    child.stdio[3]?.on('data', (chunk: Buffer) => {
      reportText += chunk.toString('utf8');
    });
    // Never written to; an EPIPE after the supervisor exits is expected and harmless.
    child.stdin?.on('error', () => undefined);

    child.on('error', (error: NodeJS.ErrnoException) => {
      // The supervisor itself could not start (Node missing, out of processes...).
      finish({
        ok: false,
        reason: startFailure(label, process.execPath, error.code ?? '', error.message),
        output: '',
      });
    });
    child.on('exit', () => {
      if (pgid !== undefined) running.delete(pgid);
    });
    child.on('close', (code, exitSignal) => {
      const report = parseReport(reportText);
      if (report !== undefined && 'error' in report) {
        finish({
          ok: false,
          reason: startFailure(label, program, report.error, report.message),
          output: '',
        });
      } else if (report !== undefined && 'signal' in report) {
        finish({ ok: false, reason: `${label} was killed by ${report.signal}`, output });
      } else {
        // The command's exit code, or the supervisor's own end when it could not report
        // (its group was killed, or it crashed).
        const exitCode = report?.exit ?? code;
        if (exitCode === 0) finish({ ok: true, reason: '', output });
        else
          finish({
            ok: false,
            reason:
              report === undefined && exitSignal
                ? `${label} was killed by ${exitSignal}`
                : `${label} exited with code ${exitCode}`,
            output,
          });
      }
    });
  });
}
