import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.ts';

/**
 * Debian's `haproxy`, started by a test on free loopback ports: one frontend per backend, each
 * backend with a `blue` and a `green` server, and an admin Runtime API on both TCP and a unix
 * socket. Health checks are fast so state changes show within a second.
 */
export interface HaproxyBackendSpec {
  blue: number;
  green: number;
  /** Initial weights; default 100 for blue and 0 for green (blue is production). */
  weights?: { blue: number; green: number };
}

export interface HaproxyFixture {
  /** `127.0.0.1:port` of the admin Runtime API (what `traffic.haproxy.runtimeApi` takes). */
  readonly runtimeApi: string;
  readonly socketPath: string;
  frontendUrl(backend: string): string;
  /** Sends one Runtime API command line and returns HAProxy's reply. */
  command(line: string): Promise<string>;
  /** Server name -> { state, weight } as `show servers state` reports them. */
  serverStates(
    backend: string,
  ): Promise<Record<string, { operational: number; admin: number; weight: number }>>;
  readonly output: string[];
  /** Restarts HAProxy from its config file, as a reload does: runtime changes are lost. */
  reload(): Promise<void>;
  /** Stops HAProxy as an outage would, keeping its config: `reload()` starts it again. */
  halt(): Promise<void>;
  /** Freezes HAProxy (SIGSTOP): it stops answering but keeps its state; `thaw()` resumes it. */
  freeze(): void;
  thaw(): void;
  stop(): Promise<void>;
}

export function runtimeCommand(address: string, line: string, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = address.startsWith('/')
      ? connect(address)
      : connect(Number(address.split(':')[1]), address.split(':')[0]);
    const chunks: Buffer[] = [];
    socket.setTimeout(timeoutMs, () =>
      socket.destroy(new Error(`HAProxy Runtime API timed out on "${line}"`)),
    );
    socket.on('connect', () => socket.end(`${line}\n`));
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

/**
 * The lines README tells a user to add for rings: each backend's `use-server` rules read the
 * audience maps (a header value, a cookie value, or the client's network → a server name).
 */
export function audienceLines(mapDir: string, backend: string): string[] {
  const maps = audienceMapPaths(mapDir, backend);
  return ['green', 'blue'].flatMap((server) => [
    `  use-server ${server} if { req.hdr(X-Greenlight-Ring),map(${maps.header}) -m str ${server} }`,
    `  use-server ${server} if { req.cook(gl_ring),map(${maps.cookie}) -m str ${server} }`,
    `  use-server ${server} if { src,map_ip(${maps.source}) -m str ${server} }`,
  ]);
}

export function audienceMapPaths(mapDir: string, backend: string) {
  return {
    header: join(mapDir, `${backend}-header.map`),
    cookie: join(mapDir, `${backend}-cookie.map`),
    source: join(mapDir, `${backend}-source.map`),
  };
}

function configFor(
  runtimePort: number,
  socketPath: string,
  frontends: Record<string, number>,
  backends: Record<string, HaproxyBackendSpec>,
  checkPath: string,
  mapDir?: string,
): string {
  const lines = [
    'global',
    // HAProxy binds with SO_REUSEPORT by default, so a second HAProxy given the same port (a
    // port free when picked, taken by another test's proxy since) would silently share it and
    // answer the other test's requests. Without it, the second one fails to bind and we say so.
    '  noreuseport',
    `  stats socket 127.0.0.1:${runtimePort} level admin`,
    `  stats socket ${socketPath} mode 600 level admin`,
    '  maxconn 2000',
    '',
    'defaults',
    '  mode http',
    '  timeout connect 2s',
    '  timeout client 30s',
    '  timeout server 30s',
    // A slot server starved of CPU (tests run side by side on two cores) may answer a check
    // late: without this a check times out after `inter` (300 ms) and two late answers mark
    // the slot DOWN, which fails requests that no switch caused.
    '  timeout check 2s',
    '  option redispatch',
    '  retries 2',
    '',
  ];
  for (const [name, spec] of Object.entries(backends)) {
    const weights = spec.weights ?? { blue: 100, green: 0 };
    lines.push(
      `frontend fe_${name}`,
      `  bind 127.0.0.1:${frontends[name]}`,
      `  default_backend ${name}`,
      '',
      `backend ${name}`,
      '  balance roundrobin',
      `  option httpchk GET ${checkPath}`,
      '  http-check expect status 200',
      '  default-server inter 300ms fall 2 rise 1',
      ...(mapDir ? audienceLines(mapDir, name) : []),
      `  server blue 127.0.0.1:${spec.blue} check weight ${weights.blue}`,
      `  server green 127.0.0.1:${spec.green} check weight ${weights.green}`,
      '',
    );
  }
  return `${lines.join('\n')}\n`;
}

export async function startHaproxy(
  backends: Record<string, HaproxyBackendSpec>,
  options: { checkPath?: string; audienceMapDir?: string } = {},
): Promise<HaproxyFixture> {
  const mapDir = options.audienceMapDir;
  if (mapDir !== undefined) {
    for (const name of Object.keys(backends))
      for (const path of Object.values(audienceMapPaths(mapDir, name)))
        await writeFile(path, '', { flag: 'a' });
  }
  const dir = await mkdtemp(join(tmpdir(), 'greenlight-haproxy-'));
  const socketPath = join(dir, 'admin.sock');
  let runtimePort = 0;
  const frontends: Record<string, number> = {};
  const configPath = join(dir, 'haproxy.cfg');
  const pickPorts = async () => {
    runtimePort = await freePort();
    for (const name of Object.keys(backends)) frontends[name] = await freePort();
    await writeFile(
      configPath,
      configFor(
        runtimePort,
        socketPath,
        frontends,
        backends,
        options.checkPath ?? '/healthz',
        mapDir,
      ),
    );
  };

  const output: string[] = [];
  let runtimeApi = '';
  let child: ChildProcess;
  let exited: Promise<void>;
  const launch = async () => {
    child = spawn('haproxy', ['-db', '-f', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.on('data', (c: Buffer) => output.push(c.toString()));
    child.stderr?.on('data', (c: Buffer) => output.push(c.toString()));
    const current = child;
    exited = new Promise<void>((resolve) => current.on('exit', () => resolve()));
    const spawnError = new Promise<never>((_, reject) =>
      current.on('error', (error) =>
        reject(new Error(`cannot start haproxy (apt-get install haproxy): ${error.message}`)),
      ),
    );
    const ready = (async () => {
      for (let i = 0; i < 100; i += 1) {
        if (current.exitCode !== null) throw new Error(`haproxy exited:\n${output.join('')}`);
        try {
          // Our own process answering, not another test's proxy on a port taken meanwhile.
          const info = await runtimeCommand(runtimeApi, 'show info');
          if (info.includes('Name: HAProxy') && info.includes(`\nPid: ${current.pid}\n`)) return;
        } catch {
          // not listening yet
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`haproxy did not answer on its Runtime API:\n${output.join('')}`);
    })();
    await Promise.race([ready, spawnError]);
  };
  // A port free when picked can be taken before HAProxy binds it: then other ports.
  for (let attempt = 1; ; attempt += 1) {
    await pickPorts();
    runtimeApi = `127.0.0.1:${runtimePort}`;
    try {
      await launch();
      break;
    } catch (error) {
      if (attempt >= 5 || !output.join('').includes('cannot bind')) throw error;
      output.length = 0;
    }
  }

  const fixture: HaproxyFixture = {
    runtimeApi,
    socketPath,
    output,
    frontendUrl: (backend) => `http://127.0.0.1:${frontends[backend]}`,
    command: (line) => runtimeCommand(runtimeApi, line),
    async serverStates(backend) {
      const text = await runtimeCommand(runtimeApi, `show servers state ${backend}`);
      // Format (version 1): be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state
      // srv_uweight srv_iweight ...
      const states: Record<string, { operational: number; admin: number; weight: number }> = {};
      for (const line of text.split('\n')) {
        const f = line.trim().split(/\s+/);
        if (f.length < 8 || f[0]?.startsWith('#') || f[1] !== backend) continue;
        states[f[3] ?? ''] = {
          operational: Number(f[5]),
          admin: Number(f[6]),
          weight: Number(f[7]),
        };
      }
      return states;
    },
    async reload() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
      await launch();
    },
    async halt() {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    },
    freeze() {
      if (child.exitCode === null) child.kill('SIGSTOP');
    },
    thaw() {
      if (child.exitCode === null) child.kill('SIGCONT');
    },
    async stop() {
      if (child.exitCode === null) child.kill('SIGCONT');
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
  return fixture;
}
