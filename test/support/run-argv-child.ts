// A stand-in for a Greenlight worker that dies mid-deploy: runs `runArgv` on the argv given as
// arguments, waits for the command to write its pid file, then prints one JSON line with its own
// pid and the file's pids and waits. A test SIGKILLs this process and checks that the command's
// process group went with it.
//
// Usage: node test/support/run-argv-child.ts <pid file> <program> [args...]
import { readFile } from 'node:fs/promises';
import { runArgv } from '../../src/adapters/process/run-argv.ts';

const [pidFile, ...argv] = process.argv.slice(2);
if (pidFile === undefined || argv.length === 0) {
  console.error('usage: run-argv-child.ts <pid file> <program> [args...]');
  process.exit(2);
}

const result = runArgv(argv, {
  env: process.env,
  cwd: process.cwd(),
  timeoutSeconds: 120,
  label: 'test command',
});

for (let i = 0; ; i += 1) {
  const text = await readFile(pidFile, 'utf8').catch(() => '');
  if (text !== '') {
    console.log(JSON.stringify({ runner: process.pid, ...JSON.parse(text) }));
    break;
  }
  if (i > 200) throw new Error(`the command never wrote ${pidFile}`);
  await new Promise((resolve) => setTimeout(resolve, 50));
}

// Only reached if nobody kills this process first.
console.log(JSON.stringify(await result));
