// The soak test's deploy command (run as `node soak-deploy.ts <state dir> <runtime api> <backend>`):
// it "deploys" GREENLIGHT_VERSION to the slot server at GREENLIGHT_SLOT_URL, and records what a
// deploy must never do. Each run appends JSON lines to <state dir>/runs.jsonl:
//   start: which slot and version, whether another deploy process for the same slot was still
//          alive (a second deploy beside an orphan), and whether HAProxy had that slot serving
//          traffic at that moment (a deploy onto production);
//   end:   how it finished (a SIGKILL leaves no end line).
// <state dir>/modes.json maps "<service> <version>" to a behaviour: ok (default), fail, hang,
// slow, unhealthy, wrong-version; so a bad build stays bad, and a redeploy of a good version
// (a rollback, a sync) is not sabotaged by the last /bump's mode.
import { appendFileSync, existsSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';

const [stateDir = '.', runtimeApi = '', backend = ''] = process.argv.slice(2);
const service = process.env.GREENLIGHT_SERVICE ?? '';
const version = process.env.GREENLIGHT_VERSION ?? '';
const slot = process.env.GREENLIGHT_SLOT ?? '';
const slotUrl = process.env.GREENLIGHT_SLOT_URL ?? '';
const releaseId = process.env.GREENLIGHT_RELEASE_ID ?? '';

const record = (fields: Record<string, unknown>) =>
  appendFileSync(
    `${stateDir}/runs.jsonl`,
    `${JSON.stringify({ pid: process.pid, at: Date.now(), service, version, slot, releaseId, ...fields })}\n`,
  );

let mode = 'ok';
try {
  const modes = JSON.parse(readFileSync(`${stateDir}/modes.json`, 'utf8')) as Record<
    string,
    string
  >;
  mode = modes[`${service} ${version}`] ?? 'ok';
} catch {
  // no modes file: deploy normally
}

/** A live deploy process (not a zombie, not a recycled pid): /proc when there is one. */
const alive = (pid: number) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'Z' || state === 'X') return false;
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('soak-deploy');
  } catch {
    try {
      process.kill(pid, 0);
      return !existsSync('/proc/self');
    } catch {
      return false;
    }
  }
};
const lock = `${stateDir}/${service}-${slot}.lock`;
let other: number | undefined;
try {
  other = Number(readFileSync(lock, 'utf8'));
} catch {
  other = undefined;
}
const concurrentWith = other && other !== process.pid && alive(other) ? other : undefined;
writeFileSync(lock, String(process.pid));
const unlock = () => {
  try {
    if (readFileSync(lock, 'utf8') === String(process.pid)) unlinkSync(lock);
  } catch {
    // already gone
  }
};

function runtime(line: string): Promise<string> {
  return new Promise((resolve) => {
    const [host, port] = runtimeApi.split(':');
    const socket = connect(Number(port), host ?? '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.setTimeout(1000, () => socket.destroy());
    socket.on('connect', () => socket.end(`${line}\n`));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => resolve(''));
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

// `show servers state`: be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight
let serving: boolean | undefined;
let servers = '';
if (runtimeApi !== '' && backend !== '') {
  const text = await runtime(`show servers state ${backend}`);
  for (const row of text.split('\n')) {
    const f = row.trim().split(/\s+/);
    if (f.length < 8 || f[1] !== backend) continue;
    const admin = Number(f[6]);
    const weight = Number(f[7]);
    servers += `${f[3]}(w=${weight},admin=${admin}) `;
    if (f[3] === slot) serving = (admin & 0x3f) === 0 && weight > 0;
  }
}
record({ event: 'start', mode, concurrentWith, serving, servers: servers.trim() });
process.on('SIGTERM', () => {
  record({ event: 'end', ok: false, signal: 'SIGTERM' });
  unlock();
  process.exit(143);
});

if (mode === 'slow') await new Promise((resolve) => setTimeout(resolve, 3000));
if (mode === 'fail') {
  console.error('error: manifest unknown: image not found');
  record({ event: 'end', ok: false });
  unlock();
  process.exit(3);
}
if (mode === 'hang') {
  console.log('waiting for the cluster...');
  setInterval(() => {}, 1000);
} else {
  const state =
    mode === 'unhealthy'
      ? { version, healthy: false }
      : mode === 'wrong-version'
        ? { version: '0.0.1', healthy: true }
        : { version, healthy: true };
  const ok = await fetch(`${slotUrl}/__control`, { method: 'POST', body: JSON.stringify(state) })
    .then((res) => res.ok)
    .catch(() => false);
  record({ event: 'end', ok });
  unlock();
  if (!ok) process.exit(1);
  console.log(`deployed ${version}`);
}
