/**
 * Runs one command and ties its process group to the life of the process that asked for it.
 *
 * Usage: `node argv-supervisor.ts <program> [args...]`, started by `runArgv` detached, so this
 * process leads a process group of its own, with:
 * - fd 0: a pipe the parent writes a heartbeat byte to every second. End-of-file (the parent
 *   exited or was SIGKILLed) or five seconds without a beat (the parent is frozen) SIGKILLs the
 *   whole group, so a deploy never outlives the worker that owns its step (BullMQ would run it
 *   again elsewhere).
 * - fd 1 and 2: handed to the command as they are, so its output goes straight to the parent.
 * - fd 3: one JSON line for the parent, a {@link SupervisorReport}: how the command ended or why
 *   it could not start. Node opens inherited descriptors close-on-exec, so the command never
 *   holds it open.
 *
 * The command is spawned without a shell and stays in this group. The exit code mirrors the
 * command's (128 + signal number when a signal ended it, 127 when it could not start).
 *
 * From src/ it runs directly under Node (type stripping); `npm run build` makes it an entry point
 * of its own, dist/src/argv-supervisor.js. Erasable syntax and node: imports only.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { writeSync } from 'node:fs';
import { constants } from 'node:os';

/** How the command ended, or why it never started (`error` is an errno code such as ENOENT). */
export type SupervisorReport =
  | { readonly exit: number }
  | { readonly signal: string }
  | { readonly error: string; readonly message: string };

const REPORT_FD = 3;
/** The shell convention for "command not found / not executable". */
const COULD_NOT_START = 127;

function report(message: SupervisorReport): void {
  try {
    writeSync(REPORT_FD, `${JSON.stringify(message)}\n`);
  } catch {
    // No report channel (run by hand) or the parent is gone: the exit code still tells.
  }
}

function killGroup(): void {
  try {
    process.kill(-process.pid, 'SIGKILL');
  } catch {
    // Not a group leader (run by hand without setsid): take down at least this process.
  }
  process.exit(128 + constants.signals.SIGKILL);
}

const [program, ...args] = process.argv.slice(2);
if (program === undefined) {
  report({ error: 'EINVAL', message: 'argv-supervisor: no command given' });
  process.exit(2);
}

// End-of-file on stdin means the parent is gone: nobody will wait for this command any more.
process.stdin.on('end', killGroup);
process.stdin.on('error', killGroup);
// A parent that is alive but frozen (SIGSTOP, a stalled VM) keeps the pipe open and stops its
// heartbeat: after HEARTBEAT_TIMEOUT_MS of silence its step counts as stalled and may run
// elsewhere, so the command must be gone before that. The timeout is below the deploy lock's
// expiry (10 s), so a second deploy of the slot can only start after this one died.
const HEARTBEAT_TIMEOUT_MS = Number(process.env.GREENLIGHT_SUPERVISOR_HEARTBEAT_MS ?? 5000);
let lastBeat = Date.now();
process.stdin.on('data', () => {
  lastBeat = Date.now();
});
setInterval(() => {
  if (Date.now() - lastBeat > HEARTBEAT_TIMEOUT_MS) killGroup();
}, 250).unref();
process.stdin.resume();

let child: ChildProcess;
try {
  // The command gets exactly the environment runArgv chose, without this supervisor's knob.
  const { GREENLIGHT_SUPERVISOR_HEARTBEAT_MS: _knob, ...env } = process.env;
  child = spawn(program, args, { stdio: ['ignore', 'inherit', 'inherit'], shell: false, env });
} catch (error) {
  // Arguments Node refuses outright (an empty program name, a NUL byte in an argument).
  report({ error: 'EINVAL', message: (error as Error).message });
  process.exit(COULD_NOT_START);
}

// Someone signalling only this process (not the group) means the command.
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
  process.on(signal, () => child.kill(signal));
}

child.on('error', (error: NodeJS.ErrnoException) => {
  // Only a failure to start matters here; once the command runs, its exit tells the rest.
  if (child.pid !== undefined) return;
  report({ error: error.code ?? 'UNKNOWN', message: error.message });
  process.exit(COULD_NOT_START);
});

child.on('exit', (code, signal) => {
  if (signal !== null) {
    report({ signal });
    process.exit(128 + (constants.signals[signal] ?? 0));
  }
  report({ exit: code ?? 1 });
  process.exit(code ?? 1);
});
