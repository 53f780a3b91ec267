import { connect } from 'node:net';

/** One server of a backend as `show servers state` reports it. */
export interface HaproxyServerState {
  readonly name: string;
  /** 0 stopped, 1 starting, 2 running, 3 stopping (HAProxy's health-check view). */
  readonly operational: number;
  /** Bit field: maintenance (0x01, 0x02, 0x04, 0x20) and drain (0x08, 0x10). */
  readonly admin: number;
  readonly weight: number;
}

export class HaproxyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HaproxyError';
  }
}

/** The Runtime API did not answer at all (refused, reset, timed out): nothing was read or set. */
export class HaproxyUnreachableError extends HaproxyError {
  constructor(message: string) {
    super(message);
    this.name = 'HaproxyUnreachableError';
  }
}

const MAINT = 0x01 | 0x02 | 0x04 | 0x20;
const DRAIN = 0x08 | 0x10;

export const isRunning = (s: HaproxyServerState) => s.operational === 2;
export const isDraining = (s: HaproxyServerState) => (s.admin & DRAIN) !== 0;
export const isInMaintenance = (s: HaproxyServerState) => (s.admin & MAINT) !== 0;
/** Takes new requests: not in maintenance, not draining, and has weight. */
export const takesTraffic = (s: HaproxyServerState) =>
  !isInMaintenance(s) && !isDraining(s) && s.weight > 0;

/**
 * HAProxy's Runtime API over TCP (`host:port`) or a unix socket (absolute path), at admin level.
 * One command line per connection, as HAProxy closes the socket after answering.
 */
export class HaproxyRuntimeApi {
  readonly address: string;
  private readonly timeoutMs: number;

  constructor(address: string, timeoutMs: number) {
    this.address = address;
    this.timeoutMs = timeoutMs;
  }

  send(line: string): Promise<string> {
    if (/[\r\n]/.test(line)) throw new HaproxyError('a Runtime API command must be one line');
    return new Promise((resolve, reject) => {
      const [host, port] = this.address.startsWith('/')
        ? [undefined, undefined]
        : this.address.split(':');
      const socket = this.address.startsWith('/')
        ? connect(this.address)
        : connect(Number(port), host);
      const chunks: Buffer[] = [];
      socket.setTimeout(this.timeoutMs, () =>
        socket.destroy(
          new HaproxyUnreachableError(
            `HAProxy Runtime API at ${this.address} did not answer within ${this.timeoutMs} ms`,
          ),
        ),
      );
      socket.on('connect', () => socket.end(`${line}\n`));
      socket.on('data', (chunk) => chunks.push(chunk));
      socket.on('error', (error: NodeJS.ErrnoException) =>
        reject(
          error instanceof HaproxyError
            ? error
            : new HaproxyUnreachableError(
                `HAProxy Runtime API at ${this.address} is unreachable (${error.code ?? error.message})`,
              ),
        ),
      );
      socket.on('close', (hadError) => {
        if (!hadError) resolve(Buffer.concat(chunks).toString('utf8'));
      });
    });
  }

  /** Runs `set …` commands in one line; any reply text is HAProxy's error message. */
  async apply(commands: readonly string[]): Promise<void> {
    const reply = await this.send(commands.join('; '));
    const errors = reply
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean);
    if (errors.length > 0)
      throw new HaproxyError(`HAProxy refused "${commands.join('; ')}": ${errors.join(' / ')}`);
  }

  /**
   * Which HAProxy process this is (`show info`): when it started, to the second, and its pid. A
   * reload starts a new process; two starts within one second differ only by their pid.
   */
  async processStart(): Promise<{ seconds: number; pid: number }> {
    const reply = await this.send('show info');
    const start = reply.match(/^Start_time_sec:\s*(\d+)/m);
    if (start === null) throw new HaproxyError("HAProxy's show info has no Start_time_sec");
    const pid = reply.match(/^Pid:\s*(\d+)/m);
    return { seconds: Number(start[1]), pid: pid === null ? 0 : Number(pid[1]) };
  }

  async serverStates(backend: string): Promise<HaproxyServerState[]> {
    const reply = await this.send(`show servers state ${backend}`);
    const lines = reply.split('\n').map((l) => l.trim());
    const header = lines.find((l) => l.startsWith('# be_id'));
    if (header === undefined) {
      throw new HaproxyError(
        `HAProxy has no backend "${backend}" (${lines.filter(Boolean).join(' / ') || 'empty reply'})`,
      );
    }
    const columns = header.slice(2).split(/\s+/);
    const at = (name: string) => columns.indexOf(name);
    const servers: HaproxyServerState[] = [];
    for (const line of lines) {
      if (line === '' || line.startsWith('#') || /^\d+$/.test(line)) continue;
      const fields = line.split(/\s+/);
      if (fields[at('be_name')] !== backend) continue;
      servers.push({
        name: fields[at('srv_name')] ?? '',
        operational: Number(fields[at('srv_op_state')]),
        admin: Number(fields[at('srv_admin_state')]),
        weight: Number(fields[at('srv_uweight')]),
      });
    }
    return servers;
  }
}
