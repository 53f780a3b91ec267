import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { checkboxesOf, checkboxesPayload } from './checklist-clicks.ts';
import type { ExtraRoutes, SlackEmulator } from './slack-emulator.ts';
import {
  blockActionsPayload,
  interactionBody,
  nextTriggerId,
  slashCommandBody,
  viewSubmissionPayload,
} from './slack-payloads.ts';
import { signedHeaders } from './slack-signing.ts';

/** The slash commands the Slack app registers (manifest.yml), as a workspace offers them. */
const REGISTERED_COMMANDS: readonly string[] = [
  ...readFileSync(new URL('../manifest.yml', import.meta.url), 'utf8').matchAll(
    /^\s*- command: (\/\S+)\s*$/gm,
  ),
].map((m) => m[1] ?? '');

/**
 * The Slack sandbox: a page on the emulator's own server that shows channels and threads and
 * lets a person type slash commands, click buttons and fill modals as different users. It speaks
 * only Slack's public protocol to Greenlight: the page's actions become requests signed exactly
 * as Slack signs them, and Greenlight's answers arrive through the emulated Web API.
 */
export interface SandboxUser {
  readonly id: string;
  readonly name: string;
  readonly role: string;
  /** What the role lets them do in the demo, for the page's intro (`approves a patch release`). */
  readonly does?: string;
}

/** One slot of the demo's service as the page shows it: its role, version, traffic and faults. */
export interface SandboxSlot {
  readonly name: string;
  readonly role: 'PRODUCTION' | 'STANDBY';
  /** The slot the latest deploy went to (the "new slot" of a release). */
  readonly isNew: boolean;
  readonly version: string;
  /** Share of new requests HAProxy sends to it, 0 to 100. */
  readonly trafficPercent: number;
  readonly healthy: boolean;
  readonly fault: { readonly errorRate: number; readonly latencyMs: number };
}

/** A feature flag of the demo's service as its provider reports it (`off`, `on for 10 %`). */
export interface SandboxFlag {
  readonly name: string;
  readonly environment: string;
  /** `off`, `on (100 %)`, `on for 10 %`, or why it could not be read. */
  readonly state: string;
}

/** An Alertmanager silence Greenlight holds for the demo's release, as Alertmanager reports it. */
export interface SandboxSilence {
  readonly matchers: string;
  /** `active`, `pending` or `expired`. */
  readonly state: string;
  readonly endsAt: string;
}

export interface SandboxService {
  readonly name: string;
  readonly slots: readonly SandboxSlot[];
  readonly flags?: readonly SandboxFlag[];
  readonly silences?: readonly SandboxSilence[];
}

export interface SandboxOptions {
  /** Greenlight's Request URL base (`http://127.0.0.1:3000`). */
  readonly appUrl: () => string;
  readonly signingSecret: string;
  readonly users: readonly SandboxUser[];
  readonly channels: readonly { id: string; name: string }[];
  /** Fault injection: slot name → control URL (`POST` JSON like `{ errorRate: 0.3 }`). */
  readonly slots: Readonly<Record<string, string>>;
  /** User groups by id, so `<!subteam^S…>` renders as `@handle`. */
  readonly usergroups?: readonly { id: string; handle: string }[];
  /** Which slot is PRODUCTION and which faults are active (`GET /sandbox/slots`, and in the state). */
  readonly service?: () => Promise<SandboxService>;
  /**
   * Rings: sends one request through HAProxy to the ringed service as an internal user (with
   * the ring header) or as a customer, and says which slot and version answered.
   */
  readonly askAs?: (
    who: 'internal' | 'customer',
  ) => Promise<{ service: string; slot: string; version: string } | { error: string }>;
}

interface Ephemeral {
  readonly user: string;
  readonly at: number;
  readonly body: Record<string, unknown>;
}

const PAGE = new URL('../demo/sandbox.html', import.meta.url);

async function json(res: ServerResponse, status: number, body: unknown): Promise<boolean> {
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
  });
  res.end(JSON.stringify(body));
  return true;
}

/** Routes for the sandbox page; pass the result as the emulator's `extraRoutes`. */
export function sandboxRoutes(
  getEmulator: () => SlackEmulator,
  options: SandboxOptions,
): ExtraRoutes {
  const ephemerals: Ephemeral[] = [];
  /** response_url → the user whose action created it, so private answers reach only them. */
  const responseOwners = new Map<string, string>();
  /** trigger_id → user, so a modal opens for the person who clicked. */
  const triggerOwners = new Map<string, string>();
  /** Modals submitted or cancelled, by the time views.open was called. */
  const closedModals = new Set<number>();

  const post = async (rawBody: string) => {
    const res = await fetch(`${options.appUrl()}/slack/events`, {
      method: 'POST',
      headers: signedHeaders(options.signingSecret, rawBody),
      body: rawBody,
    });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : '';
    } catch {
      // plain text
    }
    return { status: res.status, body };
  };

  const track = (user: string): string => {
    const url = getEmulator().newResponseUrl();
    responseOwners.set(url.split('/').pop() ?? '', user);
    return url;
  };

  const serviceStatus = async () =>
    options.service ? await options.service().catch(() => null) : null;

  return async (_req: IncomingMessage, res: ServerResponse, url: URL, raw: string) => {
    const emulator = getEmulator();
    if (url.pathname === '/' || url.pathname === '/sandbox') {
      res.writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-store',
      });
      res.end(readFileSync(PAGE, 'utf8'));
      return true;
    }
    if (!url.pathname.startsWith('/sandbox/')) return false;
    const body = raw ? (JSON.parse(raw) as Record<string, string>) : {};
    switch (url.pathname) {
      case '/sandbox/state': {
        const user = url.searchParams.get('user') ?? '';
        for (const r of emulator.responses) {
          const owner = responseOwners.get(r.id);
          if (owner && !ephemerals.some((e) => e.body === r.body))
            ephemerals.push({ user: owner, at: r.at, body: r.body });
        }
        for (const call of emulator.callsTo('chat.postEphemeral')) {
          if (!ephemerals.some((e) => e.body === call.args)) {
            ephemerals.push({ user: String(call.args.user), at: call.at, body: call.args });
          }
        }
        const modal = emulator
          .callsTo('views.open')
          .filter(
            (c) =>
              triggerOwners.get(String(c.args.trigger_id)) === user &&
              c.status === 200 &&
              !closedModals.has(c.at),
          )
          .at(-1);
        return json(res, 200, {
          users: options.users,
          channels: options.channels,
          usergroups: options.usergroups ?? [],
          slots: Object.keys(options.slots),
          service: await serviceStatus(),
          rings: options.askAs !== undefined,
          messages: emulator.messages().filter((m) => m.user === undefined),
          ephemerals: ephemerals.filter((e) => e.user === user).sort((a, b) => a.at - b.at),
          modal: modal
            ? { at: modal.at, view: (modal.reply.view as object) ?? modal.args.view }
            : null,
        });
      }
      case '/sandbox/slots':
        return json(res, 200, { service: await serviceStatus() });
      case '/sandbox/command': {
        const user = options.users.find((u) => u.id === body.user);
        const [command = '', ...rest] = String(body.text ?? '')
          .trim()
          .split(/\s+/);
        if (user === undefined || !command.startsWith('/'))
          return json(res, 400, { error: 'type a slash command like /bump api' });
        // Slack's own client answers a command the app did not register; nothing is sent.
        if (!REGISTERED_COMMANDS.includes(command))
          return json(res, 400, {
            error: `${command} is not a valid command. The app's commands: ${REGISTERED_COMMANDS.join(', ')}.`,
          });
        // A command may answer with a form (a /rollback that must say why): it opens for its typist.
        const triggerId = nextTriggerId();
        triggerOwners.set(triggerId, user.id);
        const reply = await post(
          slashCommandBody({
            command,
            text: rest.join(' '),
            user_id: user.id,
            user_name: user.name,
            channel_id: body.channel ?? 'C0RELEASES',
            response_url: track(user.id),
            trigger_id: triggerId,
          }),
        );
        if (typeof reply.body === 'object' && reply.body !== null) {
          ephemerals.push({
            user: user.id,
            at: Date.now(),
            body: reply.body as Record<string, unknown>,
          });
        }
        return json(res, 200, { status: reply.status });
      }
      case '/sandbox/click': {
        const message = emulator.messages().find((m) => m.ts === body.ts);
        if (Array.isArray(body.selected) && message !== undefined) {
          // A checkbox changed: Slack sends the element's whole selection, as the page has it.
          const boxes = checkboxesOf(message).find(
            (b) => b.blockId === body.block_id && b.actionId === body.action_id,
          );
          if (boxes === undefined) return json(res, 404, { error: 'no such checkboxes' });
          const chosen = new Set((body.selected as unknown[]).map(String));
          const payload = checkboxesPayload({
            user: String(body.user),
            message,
            boxes,
            selected: boxes.options.filter((o) => chosen.has(String(o.value))),
            responseUrl: track(String(body.user)),
          });
          triggerOwners.set(String(payload.trigger_id), String(body.user));
          const reply = await post(interactionBody(payload));
          return json(res, 200, { status: reply.status });
        }
        const payload = blockActionsPayload({
          action_id: String(body.action_id),
          value: String(body.value),
          user_id: String(body.user),
          channel_id: message?.channel ?? 'C0RELEASES',
          message_ts: String(body.ts),
          message_text: message?.text ?? '',
          message_blocks: message?.blocks ?? [],
          response_url: track(String(body.user)),
        });
        triggerOwners.set(String(payload.trigger_id), String(body.user));
        const reply = await post(interactionBody(payload));
        return json(res, 200, { status: reply.status });
      }
      case '/sandbox/submit': {
        const modal = emulator.callsTo('views.open').find((c) => c.at === Number(body.at));
        if (modal === undefined) return json(res, 404, { error: 'no such modal' });
        const view = { ...(modal.args.view as Record<string, unknown>), id: 'V0SANDBOX' };
        const values = JSON.parse(String(body.values ?? '{}')) as Record<
          string,
          Record<string, string>
        >;
        const reply = await post(
          new URLSearchParams({
            payload: JSON.stringify(viewSubmissionPayload(view, String(body.user), values)),
          }).toString(),
        );
        // Closing is what Slack does on an empty ack; errors stay in the modal.
        if (typeof reply.body === 'object' && reply.body !== null)
          return json(res, 200, reply.body);
        closedModals.add(modal.at);
        return json(res, 200, { closed: true });
      }
      case '/sandbox/ask': {
        if (options.askAs === undefined) return json(res, 404, { error: 'no ringed service' });
        return json(
          res,
          200,
          await options.askAs(body.as === 'internal' ? 'internal' : 'customer'),
        );
      }
      case '/sandbox/close':
        closedModals.add(Number(body.at));
        return json(res, 200, { closed: true });
      case '/sandbox/fault': {
        const target = options.slots[String(body.slot)];
        if (target === undefined) return json(res, 404, { error: 'unknown slot' });
        const fault = {
          errorRate: Number(body.errorRate ?? 0),
          latencyMs: Number(body.latencyMs ?? 0),
        };
        await fetch(`${target}/__control`, { method: 'POST', body: JSON.stringify(fault) });
        return json(res, 200, fault);
      }
      default:
        return json(res, 404, { error: 'unknown sandbox route' });
    }
  };
}
