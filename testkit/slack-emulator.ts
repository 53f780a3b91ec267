import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { blockKitViolations } from './block-kit-limits.ts';

/**
 * A Slack Web API emulator on loopback, for tests and the demo. It answers the methods Greenlight
 * calls the way Slack does (HTTP 200 with `ok:false` for errors, 429 with `Retry-After`), records
 * every call, receives `response_url` posts, and flags messages that break Block Kit limits.
 */

export interface EmulatorCall {
  readonly method: string;
  readonly args: Record<string, unknown>;
  readonly at: number;
  /** HTTP status answered; 0 for a call never answered (`hangNext`). */
  readonly status: number;
  readonly reply: Record<string, unknown>;
}

export interface EmulatedMessage {
  readonly channel: string;
  readonly ts: string;
  thread_ts?: string;
  text: string;
  blocks: unknown[];
  /** Set for ephemeral messages: only this user sees them. */
  readonly user?: string;
  edits: number;
}

export interface ResponseUrlPost {
  readonly id: string;
  readonly body: Record<string, unknown>;
  readonly at: number;
}

export interface Violation {
  readonly method: string;
  readonly problems: string[];
}

/** Extra HTTP routes on the emulator's server (the demo's sandbox page); true when handled. */
export type ExtraRoutes = (
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  rawBody: string,
) => boolean | Promise<boolean>;

export interface EmulatorOptions {
  /** Loopback port to listen on; 0 (default) lets the OS pick. */
  port?: number;
  extraRoutes?: ExtraRoutes;
  botToken?: string;
  users?: Record<string, { name: string; real_name?: string; tz?: string }>;
  usergroups?: Record<string, string[]>;
  /** Channels that exist; posting elsewhere answers `channel_not_found`. Default: any C…/G… id. */
  channels?: string[];
}

type Fault =
  | { kind: 'hang' }
  | { kind: 'error'; error: string }
  | { kind: 'rate_limited'; retryAfterSeconds: number }
  | { kind: 'server_error'; status: number };

const TEAM = { id: 'T0GREEN', name: 'greenlight-test', url: 'https://greenlight-test.slack.com/' };
const BOT = { user_id: 'U0GREENBOT', bot_id: 'B0GREENLIGHT', app_id: 'A0GREENLIGHT' };

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** WebClient sends form-encoded args with objects (blocks) as JSON strings; JSON bodies also occur. */
function parseArgs(contentType: string, raw: string): Record<string, unknown> {
  if (raw === '') return {};
  if (contentType.includes('application/json')) return JSON.parse(raw) as Record<string, unknown>;
  const args: Record<string, unknown> = {};
  for (const [key, value] of new URLSearchParams(raw)) {
    const jsonField = ['blocks', 'attachments', 'view', 'metadata'].includes(key);
    if (jsonField && (value.startsWith('[') || value.startsWith('{'))) {
      try {
        args[key] = JSON.parse(value);
        continue;
      } catch {
        // Slack would answer invalid_arguments; keep the raw string so the handler can tell.
      }
    }
    args[key] = value;
  }
  return args;
}

export class SlackEmulator {
  readonly calls: EmulatorCall[] = [];
  readonly responses: ResponseUrlPost[] = [];
  readonly violations: Violation[] = [];
  readonly botToken: string;
  private readonly messagesByKey = new Map<string, EmulatedMessage>();
  private readonly faults = new Map<string, Fault[]>();
  private readonly events = new EventEmitter();
  private readonly server: Server;
  private readonly options: EmulatorOptions;
  private tsCounter = 0;
  private responseCounter = 0;
  private viewCounter = 0;
  private port = 0;

  private constructor(options: EmulatorOptions) {
    this.options = options;
    this.botToken = options.botToken ?? 'xoxb-emulator-token';
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(String(error));
      });
    });
    this.events.setMaxListeners(100);
  }

  static async start(options: EmulatorOptions = {}): Promise<SlackEmulator> {
    const emulator = new SlackEmulator(options);
    await new Promise<void>((resolve) =>
      emulator.server.listen(options.port ?? 0, '127.0.0.1', resolve),
    );
    emulator.port = (emulator.server.address() as AddressInfo).port;
    return emulator;
  }

  /** Base URL for `SLACK_API_URL`. */
  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get apiUrl(): string {
    return `http://127.0.0.1:${this.port}/api/`;
  }

  /** A fresh `response_url`, as Slack puts in each slash command and interaction. */
  newResponseUrl(): string {
    this.responseCounter += 1;
    return `http://127.0.0.1:${this.port}/response/${this.responseCounter}`;
  }

  /** The next `times` calls of `method` answer `{ ok: false, error }`. */
  failNext(method: string, error: string, times = 1): void {
    this.addFaults(method, { kind: 'error', error }, times);
  }

  /** The next `times` calls of `method` answer HTTP 429 with `Retry-After`. */
  rateLimitNext(method: string, retryAfterSeconds: number, times = 1): void {
    this.addFaults(method, { kind: 'rate_limited', retryAfterSeconds }, times);
  }

  /**
   * The next `times` calls of `method` are never answered (a half-open connection, a request lost
   * on its way): recorded with status 0, nothing posted; the socket closes with the emulator.
   */
  hangNext(method: string, times = 1): void {
    this.addFaults(method, { kind: 'hang' }, times);
  }

  /** The next `times` calls of `method` answer an HTTP 5xx, as during a Slack outage. */
  serverErrorNext(method: string, status = 500, times = 1): void {
    this.addFaults(method, { kind: 'server_error', status }, times);
  }

  callsTo(method: string): EmulatorCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  /** Messages as Slack holds them now (edits applied), optionally for one channel. */
  messages(channel?: string): EmulatedMessage[] {
    return [...this.messagesByKey.values()].filter(
      (m) => channel === undefined || m.channel === channel,
    );
  }

  responsesTo(responseUrl: string): ResponseUrlPost[] {
    const id = responseUrl.split('/').pop() ?? '';
    return this.responses.filter((r) => r.id === id);
  }

  /** Resolves with the first recorded item (past or future) that matches, or rejects after `timeoutMs`. */
  waitForResponse(responseUrl: string, timeoutMs = 10_000): Promise<ResponseUrlPost> {
    const id = responseUrl.split('/').pop() ?? '';
    return this.waitFor(
      'response',
      () => this.responses.find((r) => r.id === id),
      timeoutMs,
      `a post to ${responseUrl}`,
    );
  }

  waitForCall(
    method: string,
    predicate: (call: EmulatorCall) => boolean = () => true,
    timeoutMs = 10_000,
  ): Promise<EmulatorCall> {
    return this.waitFor(
      'call',
      () => this.calls.find((c) => c.method === method && predicate(c)),
      timeoutMs,
      `a ${method} call`,
    );
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private waitFor<T>(
    event: string,
    find: () => T | undefined,
    timeoutMs: number,
    what: string,
  ): Promise<T> {
    const found = find();
    if (found !== undefined) return Promise.resolve(found);
    return new Promise<T>((resolve, reject) => {
      const onEvent = () => {
        const item = find();
        if (item !== undefined) {
          clearTimeout(timer);
          this.events.off(event, onEvent);
          resolve(item);
        }
      };
      const timer = setTimeout(() => {
        this.events.off(event, onEvent);
        reject(new Error(`Slack emulator: no ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.events.on(event, onEvent);
    });
  }

  private addFaults(method: string, fault: Fault, times: number): void {
    const list = this.faults.get(method) ?? [];
    for (let i = 0; i < times; i += 1) list.push(fault);
    this.faults.set(method, list);
  }

  private nextTs(): string {
    this.tsCounter += 1;
    const seconds = Math.floor(Date.now() / 1000);
    return `${seconds}.${String(this.tsCounter).padStart(6, '0')}`;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const raw = await readBody(req);
    if (
      this.options.extraRoutes !== undefined &&
      (await this.options.extraRoutes(req, res, url, raw))
    )
      return;
    if (url.pathname.startsWith('/response/') && req.method === 'POST') {
      const body = parseArgs(String(req.headers['content-type'] ?? 'application/json'), raw);
      this.checkLimits('response_url', body);
      this.responses.push({ id: url.pathname.slice('/response/'.length), body, at: Date.now() });
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
      this.events.emit('response');
      return;
    }
    if (!url.pathname.startsWith('/api/')) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
      return;
    }
    const method = url.pathname.slice('/api/'.length);
    const args = {
      ...Object.fromEntries(url.searchParams),
      ...parseArgs(String(req.headers['content-type'] ?? ''), raw),
    };
    if (this.faults.get(method)?.[0]?.kind === 'hang') {
      this.faults.get(method)?.shift();
      this.calls.push({ method, args, at: Date.now(), status: 0, reply: {} });
      this.events.emit('call');
      return;
    }
    const { status, reply, headers } = this.answer(method, args, req.headers.authorization);
    this.calls.push({ method, args, at: Date.now(), status, reply });
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
    res.end(JSON.stringify(reply));
    this.events.emit('call');
  }

  private answer(
    method: string,
    args: Record<string, unknown>,
    authorization: string | undefined,
  ): { status: number; reply: Record<string, unknown>; headers?: Record<string, string> } {
    const fault = this.faults.get(method)?.shift();
    if (fault?.kind === 'rate_limited') {
      return {
        status: 429,
        reply: { ok: false, error: 'ratelimited' },
        headers: { 'retry-after': String(fault.retryAfterSeconds) },
      };
    }
    if (fault?.kind === 'server_error')
      return { status: fault.status, reply: { ok: false, error: 'internal_error' } };
    if (fault?.kind === 'error') return { status: 200, reply: { ok: false, error: fault.error } };

    const token =
      authorization?.replace(/^Bearer\s+/i, '') ??
      (typeof args.token === 'string' ? args.token : undefined);
    if (token === undefined || token === '')
      return { status: 200, reply: { ok: false, error: 'not_authed' } };
    if (token !== this.botToken)
      return { status: 200, reply: { ok: false, error: 'invalid_auth' } };

    const ok = (body: Record<string, unknown>) => ({ status: 200, reply: { ok: true, ...body } });
    const error = (code: string) => ({ status: 200, reply: { ok: false, error: code } });
    const str = (key: string) =>
      typeof args[key] === 'string' ? (args[key] as string) : undefined;

    switch (method) {
      case 'auth.test':
        return ok({
          url: TEAM.url,
          team: TEAM.name,
          user: 'greenlight',
          team_id: TEAM.id,
          user_id: BOT.user_id,
          bot_id: BOT.bot_id,
          is_enterprise_install: false,
        });
      case 'chat.postMessage':
      case 'chat.postEphemeral': {
        const channel = str('channel');
        if (channel === undefined) return error('channel_not_found');
        if (!this.channelExists(channel)) return error('channel_not_found');
        if (str('text') === undefined && args.blocks === undefined) return error('no_text');
        if (args.blocks !== undefined && !Array.isArray(args.blocks))
          return error('invalid_blocks_format');
        if (method === 'chat.postEphemeral' && str('user') === undefined)
          return error('user_not_found');
        const problems = this.checkLimits(method, args);
        if (problems.some((p) => p.includes('blocks ('))) return error('invalid_blocks');
        const ts = this.nextTs();
        const thread = str('thread_ts');
        const message: EmulatedMessage = {
          channel,
          ts,
          text: str('text') ?? '',
          blocks: (args.blocks as unknown[] | undefined) ?? [],
          edits: 0,
          ...(thread !== undefined ? { thread_ts: thread } : {}),
          ...(method === 'chat.postEphemeral' ? { user: str('user') } : {}),
        };
        if (thread !== undefined && !this.messagesByKey.has(`${channel}/${thread}`))
          return error('thread_not_found');
        this.messagesByKey.set(`${channel}/${ts}`, message);
        if (method === 'chat.postEphemeral') return ok({ message_ts: ts });
        return ok({
          channel,
          ts,
          message: {
            type: 'message',
            text: message.text,
            blocks: message.blocks,
            bot_id: BOT.bot_id,
            user: BOT.user_id,
            ts,
            ...(thread ? { thread_ts: thread } : {}),
          },
        });
      }
      case 'chat.update': {
        const channel = str('channel');
        const ts = str('ts');
        if (channel === undefined || !this.channelExists(channel))
          return error('channel_not_found');
        const message = ts === undefined ? undefined : this.messagesByKey.get(`${channel}/${ts}`);
        if (message === undefined || message.user !== undefined) return error('message_not_found');
        if (args.blocks !== undefined && !Array.isArray(args.blocks))
          return error('invalid_blocks_format');
        this.checkLimits(method, args);
        if (str('text') !== undefined) message.text = str('text') ?? '';
        if (args.blocks !== undefined) message.blocks = args.blocks as unknown[];
        message.edits += 1;
        return ok({
          channel,
          ts,
          text: message.text,
          message: { text: message.text, blocks: message.blocks },
        });
      }
      case 'users.info': {
        const id = str('user');
        const user = id === undefined ? undefined : this.options.users?.[id];
        if (id === undefined || (this.options.users !== undefined && user === undefined))
          return error('user_not_found');
        return ok({
          user: {
            id,
            team_id: TEAM.id,
            name: user?.name ?? id.toLowerCase(),
            real_name: user?.real_name ?? user?.name ?? id,
            tz: user?.tz ?? 'Europe/Berlin',
            is_bot: false,
            deleted: false,
          },
        });
      }
      case 'usergroups.users.list': {
        const id = str('usergroup');
        const users = id === undefined ? undefined : this.options.usergroups?.[id];
        if (users === undefined) return error('no_such_subteam');
        return ok({ users });
      }
      case 'conversations.info': {
        const channel = str('channel');
        if (channel === undefined || !this.channelExists(channel))
          return error('channel_not_found');
        return ok({
          channel: {
            id: channel,
            name: channel.toLowerCase(),
            is_channel: true,
            is_private: channel.startsWith('G'),
            is_archived: false,
            is_member: true,
          },
        });
      }
      case 'views.open': {
        if (!str('trigger_id')) return error('invalid_trigger_id');
        if (typeof args.view !== 'object' || args.view === null) return error('invalid_arguments');
        this.viewCounter += 1;
        return ok({
          view: {
            id: `V${String(this.viewCounter).padStart(8, '0')}`,
            team_id: TEAM.id,
            ...(args.view as Record<string, unknown>),
          },
        });
      }
      default:
        return error('unknown_method');
    }
  }

  private channelExists(channel: string): boolean {
    if (this.options.channels !== undefined) return this.options.channels.includes(channel);
    return /^[CGD][A-Z0-9]+$/.test(channel);
  }

  private checkLimits(method: string, body: Record<string, unknown>): string[] {
    const problems = blockKitViolations(body);
    if (problems.length > 0) this.violations.push({ method, problems });
    return problems;
  }
}
