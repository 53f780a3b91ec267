import type { Job } from 'bullmq';
import {
  blockActionsPayload,
  interactionBody,
  slashCommandBody,
  viewSubmissionPayload,
} from '../../testkit/slack-payloads.ts';
import { signedHeaders } from '../../testkit/slack-signing.ts';
import type { ChaosRecord, Violation } from './soak-oracle.ts';
import {
  ACTIVE,
  missingRoles,
  type ServiceView,
  type SoakState,
  type StoredRelease,
} from './soak-state.ts';
import { type DeployMode, SOAK_SIGNING_SECRET, type SoakWorld } from './soak-world.ts';

/** mulberry32: a small, fast, seedable PRNG with good enough spread for choosing actions. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Who holds each role; the requester (U0DEV1 or U0DEV2) never approves their own release. */
const ROLE_USERS: Record<string, string[]> = {
  lead: ['U0LEAD'],
  team: ['U0DEV1', 'U0DEV2'],
  security: ['U0SEC1'],
  cto: ['U0CTO'],
};

export interface SentRequest {
  readonly n: number;
  readonly step: number;
  readonly label: string;
  readonly kind: 'command' | 'click' | 'view' | 'duplicate';
  readonly raw: string;
  readonly sentAt: number;
  readonly responseUrl?: string;
  readonly triggerId?: string;
  readonly user: string;
  status?: number;
  body?: unknown;
  error?: string;
  judged?: boolean;
}

export interface StaleClick {
  readonly at: number;
  readonly step: number;
  readonly service: string;
  readonly releaseId: string;
  readonly supersededBy: string | undefined;
  /** The button as Greenlight audits it: approve, rollback, approve_rollback, promote, … */
  readonly button: string;
  readonly user: string;
}

export type ActionKind =
  | 'bump'
  | 'release'
  | 'approve'
  | 'approve-wrong'
  | 'reject'
  | 'sync'
  | 'rollback'
  | 'rollback-click'
  | 'rollback-approve'
  | 'promote'
  | 'pause'
  | 'resume'
  | 'abort'
  | 'status'
  | 'wait'
  | 'duplicate'
  | 'double-send'
  | 'stale'
  | 'hostile-click'
  | 'kill-worker'
  | 'kill-web'
  | 'redis-restart'
  | 'haproxy-reload'
  | 'delete-job'
  | 'canary-errors';

function textOf(body: unknown): string {
  if (typeof body === 'string') return body;
  if (typeof body !== 'object' || body === null) return String(body);
  const b = body as {
    text?: string;
    blocks?: { text?: { text?: string }; elements?: { text?: string }[] }[];
  };
  if (b.text) return b.text;
  return (b.blocks ?? [])
    .flatMap((block) => [
      block.text?.text ?? '',
      ...(block.elements ?? []).map((e) => e.text ?? ''),
    ])
    .join(' ');
}

const short = (text: string, n = 110) => {
  const one = text.replace(/\s+/g, ' ').trim();
  return one.length > n ? `${one.slice(0, n - 1)}…` : one;
};

function semverGt(a: string | null | undefined, b: string | null | undefined): boolean {
  if (!a || !b) return false;
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i += 1) {
    if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) > (pb[i] ?? 0);
  }
  return false;
}

const isSchedulerJob = (job: Job | undefined) =>
  job === undefined ||
  job.id === undefined ||
  job.id.startsWith('repeat:') ||
  (job as { repeatJobKey?: string }).repeatJobKey !== undefined;

/**
 * What "at rest" compares between polls: the service record and the release's stage. Not the
 * release's revision, which analysis samples advance every interval while a canary waits.
 */
const restKey = (v: ServiceView) =>
  [
    v.service?.revision ?? -1,
    v.last?.id ?? '-',
    v.last?.state ?? '-',
    v.last?.canary?.stepIndex ?? '-',
    v.last?.canary?.awaitingPromotion === true,
    v.last?.paused !== undefined,
  ].join('/');

export class SoakDriver {
  readonly requests: SentRequest[] = [];
  readonly chaos: ChaosRecord[] = [];
  readonly counts: Record<string, number> = {};
  readonly log: string[] = [];
  /** Clicks on a release that was not its service's last one when clicked: all must be refused. */
  readonly staleClicks: StaleClick[] = [];
  /** Clicks from another channel, or by someone neither in `operators` nor in any role. */
  readonly hostileClicks: StaleClick[] = [];
  private readonly world: SoakWorld;
  private readonly state: SoakState;
  private readonly rng: () => number;
  private readonly started = Date.now();
  private readonly pending = new Set<Promise<void>>();
  private step = 0;
  private lastRequest: SentRequest | undefined;
  private answersJudged = 0;

  constructor(world: SoakWorld, state: SoakState, rng: () => number) {
    this.world = world;
    this.state = state;
    this.rng = rng;
  }

  private note(text: string): void {
    const line = `#${String(this.step).padStart(3, '0')} +${((Date.now() - this.started) / 1000).toFixed(1).padStart(6)}s ${text}`;
    this.log.push(line);
    if (process.env.GREENLIGHT_SOAK_VERBOSE === '1') console.log(line);
  }

  // ---- sending what Slack sends -------------------------------------------------------------

  private async post(
    partial: Omit<SentRequest, 'n' | 'step' | 'sentAt'>,
    retry = false,
  ): Promise<SentRequest> {
    const headers = signedHeaders(SOAK_SIGNING_SECRET, partial.raw);
    if (retry) {
      headers['x-slack-retry-num'] = '1';
      headers['x-slack-retry-reason'] = 'http_timeout';
    }
    const sent: SentRequest = {
      ...partial,
      n: this.requests.length,
      step: this.step,
      sentAt: Date.now(),
    };
    this.requests.push(sent);
    try {
      const reply = await this.world.sender.post(partial.raw, headers);
      sent.status = reply.status;
      sent.body = reply.body;
    } catch (error) {
      sent.error = String(error);
    }
    if (sent.kind !== 'duplicate') this.lastRequest = sent;
    return sent;
  }

  /** The answer a request got so far: its HTTP body, a response_url post, a modal, an ephemeral. */
  answerOf(sent: SentRequest): string | undefined {
    if (sent.status !== 200) return undefined;
    if (sent.kind === 'duplicate') return '(duplicate delivery acknowledged)';
    const body = sent.body;
    if (typeof body === 'object' && body !== null && Object.keys(body).length > 0)
      return textOf(body);
    if (typeof body === 'string' && body.trim() !== '') return body;
    if (sent.responseUrl) {
      const post = this.world.slack.responsesTo(sent.responseUrl)[0];
      if (post) return textOf(post.body);
    }
    if (sent.triggerId) {
      const opened = this.world.slack
        .callsTo('views.open')
        .find((c) => c.args.trigger_id === sent.triggerId);
      if (opened) return '(opened the reject form)';
    }
    if (sent.kind === 'view') {
      const eph = this.world.slack
        .callsTo('chat.postEphemeral')
        .find((c) => c.at >= sent.sentAt && c.args.user === sent.user);
      if (eph) return String(eph.args.text ?? '');
    }
    return undefined;
  }

  private async awaitAnswer(sent: SentRequest, ms = 2000): Promise<string> {
    const until = Date.now() + ms;
    for (;;) {
      const answer = this.answerOf(sent);
      if (answer !== undefined) return answer;
      if (sent.error) return `(no answer: ${sent.error})`;
      if (sent.status !== undefined && sent.status !== 200) return `(HTTP ${sent.status})`;
      if (Date.now() > until) return '(no answer yet)';
      await sleep(50);
    }
  }

  private async command(user: string, command: string, text: string): Promise<SentRequest> {
    const responseUrl = this.world.slack.newResponseUrl();
    const channel = this.world.services[text.split(' ')[0] ?? '']?.channel ?? 'C0API';
    const raw = slashCommandBody({
      command,
      text,
      user_id: user,
      channel_id: channel,
      response_url: responseUrl,
    });
    const sent = await this.post({
      label: `${command} ${text} as ${user}`,
      kind: 'command',
      raw,
      responseUrl,
      user,
    });
    return sent;
  }

  /**
   * Buttons Greenlight drew for a release, as Slack holds them: `current` from the message as it
   * reads now, `history` from every chat.postMessage and chat.update ever sent (a user may click
   * an old rendering: Slack clients show stale messages, and threads keep copies). A button value
   * is whatever Greenlight put there (a release id, perhaps with the stage it was drawn for).
   */
  private buttons(
    releaseId: string,
    service: string,
  ): {
    parent: { ts: string; blocks: unknown[] } | undefined;
    current: Map<string, string>;
    history: { action: string; value: string }[];
  } {
    const channel = this.world.services[service]?.channel ?? 'C0API';
    const belongs = (value: unknown) =>
      typeof value === 'string' && (value === releaseId || value.startsWith(`${releaseId}:`));
    const collect = (node: unknown, into: { action: string; value: string }[]) => {
      if (Array.isArray(node)) {
        for (const item of node) collect(item, into);
      } else if (typeof node === 'object' && node !== null) {
        const o = node as Record<string, unknown>;
        if (typeof o.action_id === 'string' && belongs(o.value))
          into.push({ action: o.action_id, value: String(o.value) });
        for (const value of Object.values(o)) if (typeof value === 'object') collect(value, into);
      }
    };
    const parent = this.world.slack
      .messages(channel)
      .find((m) => m.thread_ts === undefined && JSON.stringify(m.blocks).includes(releaseId));
    const now: { action: string; value: string }[] = [];
    collect(parent?.blocks ?? [], now);
    const history: { action: string; value: string }[] = [];
    for (const call of this.world.slack.calls) {
      if (call.method !== 'chat.postMessage' && call.method !== 'chat.update') continue;
      if (call.args.channel !== channel) continue;
      collect(call.args.blocks, history);
    }
    return {
      parent: parent ? { ts: parent.ts, blocks: parent.blocks } : undefined,
      current: new Map(now.map((b) => [b.action, b.value])),
      history,
    };
  }

  /**
   * A click as Slack sends it. `from`: 'current' clicks the button on the message as it reads
   * now (falling back to its latest rendering, then to the bare release id); a number in [0, 1)
   * picks one of every rendering of that button ever drawn (a stale message).
   */
  private clickBody(
    user: string,
    action: string,
    releaseId: string,
    service: string,
    from: 'current' | number = 'current',
    channelOverride?: string,
  ): { raw: string; responseUrl: string; triggerId: string; value: string } {
    const responseUrl = this.world.slack.newResponseUrl();
    const channel = channelOverride ?? this.world.services[service]?.channel ?? 'C0API';
    const { parent, current, history } = this.buttons(releaseId, service);
    const drawn = history.filter((b) => b.action === action).map((b) => b.value);
    const value =
      from === 'current'
        ? (current.get(action) ?? drawn.at(-1) ?? releaseId)
        : (drawn[Math.floor(from * drawn.length)] ?? releaseId);
    const payload = blockActionsPayload({
      action_id: action,
      value,
      user_id: user,
      channel_id: channel,
      message_ts: parent?.ts ?? '1.000000',
      message_blocks: parent?.blocks ?? [],
      response_url: responseUrl,
    });
    return {
      raw: interactionBody(payload),
      responseUrl,
      triggerId: String(payload.trigger_id),
      value,
    };
  }

  private async click(
    user: string,
    action: string,
    releaseId: string,
    service: string,
    label = '',
    from: 'current' | number = 'current',
    channelOverride?: string,
  ): Promise<SentRequest> {
    const { raw, responseUrl, triggerId, value } = this.clickBody(
      user,
      action,
      releaseId,
      service,
      from,
      channelOverride,
    );
    return this.post({
      label: `${label}click ${action} ${value} as ${user}`,
      kind: 'click',
      raw,
      responseUrl,
      triggerId,
      user,
    });
  }

  /** Reject: the click opens a modal; submitting it with a reason rejects. */
  private async reject(
    user: string,
    release: StoredRelease,
    label = '',
    from: 'current' | number = 'current',
  ): Promise<string> {
    const sent = await this.click(user, 'release_reject', release.id, release.service, label, from);
    const until = Date.now() + 3000;
    let opened: Record<string, unknown> | undefined;
    while (Date.now() < until) {
      const call = this.world.slack
        .callsTo('views.open')
        .find((c) => c.args.trigger_id === sent.triggerId);
      if (call) {
        opened = call.args.view as Record<string, unknown>;
        break;
      }
      if (this.world.slack.responsesTo(sent.responseUrl ?? '').length > 0) break;
      await sleep(50);
    }
    if (opened === undefined) return this.awaitAnswer(sent);
    const payload = viewSubmissionPayload({ ...opened, id: 'V1' }, user, {
      reason: { reason_input: 'soak test: not this one' },
    });
    const submit = await this.post({
      label: `submit reject form for ${release.id} as ${user}`,
      kind: 'view',
      raw: new URLSearchParams({ payload: JSON.stringify(payload) }).toString(),
      user,
    });
    return `(form) ${await this.awaitAnswer(submit)}`;
  }

  // ---- choosing and running one step ------------------------------------------------------

  async runStep(step: number): Promise<ActionKind> {
    this.step = step;
    // A fixed number of draws per step, so one seed gives the same choices however the
    // system's timing shifts what each choice meets.
    const [rKind, rService, v1, v2, v3, rPause] = Array.from({ length: 6 }, () => this.rng()) as [
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    const names = Object.keys(this.world.services);
    const name = names[Math.floor(rService * names.length)] ?? 'api';
    const view = await this.state.view(name);
    const weights = this.weights(view);
    const total = weights.reduce((s, [, w]) => s + w, 0);
    let pick = rKind * total;
    let kind: ActionKind = 'wait';
    for (const [k, w] of weights) {
      if (pick < w) {
        kind = k;
        break;
      }
      pick -= w;
    }
    this.counts[kind] = (this.counts[kind] ?? 0) + 1;
    await this.act(kind, view, v1, v2, v3);
    // A short random gap, so actions land at different points of what the last one started.
    await sleep(Math.floor(rPause * 150));
    return kind;
  }

  private weights(view: ServiceView): [ActionKind, number][] {
    const svc = view.service;
    const rel = view.last;
    const active = rel !== null && ACTIVE.includes(rel.state);
    const op = svc?.operation ?? null;
    const deploying = op !== null && ['bump', 'sync', 'rollback'].includes(op.kind);
    const idle = !active && !deploying;
    const standby = svc ? (svc.production === 'blue' ? 'green' : 'blue') : 'green';
    const releasable =
      svc !== null &&
      semverGt(svc.slots[standby]?.version, svc.slots[svc.production]?.version) &&
      svc.slots[standby]?.health !== 'failed';
    const live =
      rel !== null && ['ramping', 'observing', 'released', 'switching'].includes(rel.state);
    const canary = rel?.strategy === 'canary' && rel.state === 'ramping';
    return [
      ['bump', idle ? (releasable ? 1.5 : 5) : 0.3],
      ['release', idle && releasable ? 7 : 0.4],
      ['approve', rel?.state === 'awaiting_approval' ? 8 : 0],
      ['approve-wrong', rel?.state === 'awaiting_approval' ? 0.5 : 0],
      ['reject', rel?.state === 'awaiting_approval' ? 0.8 : 0],
      ['sync', idle ? 1.2 : 0.3],
      ['rollback', live ? 0.7 : deploying ? 0.8 : 0.2],
      ['rollback-click', live ? 0.4 : 0],
      ['rollback-approve', rel?.pendingRollback ? 3 : 0],
      ['promote', canary ? 0.8 : 0],
      ['pause', canary && !rel?.paused ? 0.8 : 0],
      ['resume', canary && rel?.paused ? 3 : 0],
      ['abort', canary ? 0.5 : 0],
      ['canary-errors', canary ? 0.3 : 0],
      ['status', 0.4],
      ['wait', deploying || rel?.state === 'switching' || canary ? 3 : 1.5],
      ['duplicate', this.lastRequest ? 1.2 : 0],
      ['double-send', 0.5],
      ['stale', 1],
      ['hostile-click', rel !== null ? 0.8 : 0],
      ['kill-worker', 0.55],
      ['kill-web', 0.2],
      ['redis-restart', 0.3],
      ['haproxy-reload', 0.5],
      ['delete-job', 0.8],
    ];
  }

  /**
   * The version a /bump will deploy (the next one from PRODUCTION's, as Greenlight computes it),
   * and the argument to ask for it: the level itself, or an explicit version stepping past every
   * version already seen (a version rolled back is marked faulty and refused).
   */
  private async bumpTarget(
    view: ServiceView,
    level: string,
  ): Promise<{ arg: string; version: string }> {
    const production = view.service?.slots[view.service.production]?.version ?? '2.4.0';
    const seen = new Set<string>((await this.state.releases(view.name)).map((r) => r.version));
    const next = (v: string, how: string) => {
      const [major = 0, minor = 0, patch = 0] = v.split('.').map(Number);
      if (how === 'major') return `${major + 1}.0.0`;
      if (how === 'minor') return `${major}.${minor + 1}.0`;
      return `${major}.${minor}.${patch + 1}`;
    };
    const wanted = next(production, level);
    let candidate = wanted;
    while (seen.has(candidate)) candidate = next(candidate, 'patch');
    return { arg: candidate === wanted ? level : candidate, version: candidate };
  }

  private async act(
    kind: ActionKind,
    view: ServiceView,
    v1: number,
    v2: number,
    v3: number,
  ): Promise<void> {
    const name = view.name;
    const rel = view.last;
    const service = this.world.services[name];
    const requester = v2 < 0.75 ? 'U0DEV1' : 'U0DEV2';
    const say = async (label: string, sent: SentRequest) =>
      this.note(`${label} → ${short(await this.awaitAnswer(sent))}`);
    switch (kind) {
      case 'bump': {
        const level = v1 < 0.5 ? 'patch' : v1 < 0.75 ? 'minor' : v1 < 0.9 ? 'hotfix' : 'major';
        const mode: DeployMode =
          v3 < 0.8
            ? 'ok'
            : v3 < 0.88
              ? 'slow'
              : v3 < 0.94
                ? 'fail'
                : v3 < 0.97
                  ? 'hang'
                  : 'wrong-version';
        const { arg, version } = await this.bumpTarget(view, level);
        // The mode belongs to the build: every deploy of this version behaves so.
        await service?.setDeployMode(version, mode);
        const sent = await this.command(requester, '/bump', `${name} ${arg}`);
        return say(`[${version} deploys ${mode}] /bump ${name} ${arg} as ${requester}`, sent);
      }
      case 'release': {
        const sent = await this.command(requester, '/release', name);
        return say(`/release ${name} as ${requester}`, sent);
      }
      case 'approve': {
        if (!rel) return this.note('approve: no release');
        const missing = missingRoles(rel);
        const role = missing[Math.floor(v1 * missing.length)] ?? rel.requiredRoles[0] ?? 'lead';
        const approvedBy = new Set(rel.approvals.map((a) => a.user));
        const users = (ROLE_USERS[role] ?? ['U0LEAD']).filter(
          (u) => u !== rel.requester && !approvedBy.has(u),
        );
        const user = users[Math.floor(v3 * users.length)] ?? 'U0LEAD';
        const sent = await this.click(user, 'release_approve', rel.id, name);
        return say(`approve ${rel.id} (${rel.version}, ${role}) as ${user}`, sent);
      }
      case 'approve-wrong': {
        if (!rel) return this.note('approve-wrong: no release');
        const sent = await this.click(rel.requester, 'release_approve', rel.id, name);
        return say(`approve own release ${rel.id} as requester ${rel.requester}`, sent);
      }
      case 'reject': {
        if (!rel) return this.note('reject: no release');
        const user = v1 < 0.5 ? 'U0LEAD' : 'U0CTO';
        const answer = await this.reject(user, rel);
        return this.note(`reject ${rel.id} as ${user} → ${short(answer)}`);
      }
      case 'sync': {
        const sent = await this.command(requester, '/sync', name);
        return say(`/sync ${name} as ${requester}`, sent);
      }
      case 'rollback': {
        const sent = await this.command('U0LEAD', '/rollback', `${name} soak step ${this.step}`);
        return say(
          `/rollback ${name} as U0LEAD (last ${rel?.id ?? '-'} ${rel?.state ?? ''})`,
          sent,
        );
      }
      case 'rollback-click': {
        if (!rel) return this.note('rollback-click: no release');
        const sent = await this.click('U0LEAD', 'release_rollback', rel.id, name);
        return say(`click Rollback on ${rel.id} (${rel.state})`, sent);
      }
      case 'promote':
      case 'pause':
      case 'resume':
      case 'abort': {
        if (!rel) return this.note(`${kind}: no release`);
        // A canary is steered by its approvers (someone in a required role, not the requester).
        const steerers = rel.requiredRoles
          .flatMap((role) => ROLE_USERS[role] ?? [])
          .filter((u) => u !== rel.requester);
        const user = steerers[Math.floor(v1 * steerers.length)] ?? 'U0LEAD';
        const sent = await this.click(user, `release_${kind}`, rel.id, name);
        return say(
          `click ${kind} on ${rel.id} (${rel.state}${rel.paused ? ', paused' : ''})`,
          sent,
        );
      }
      case 'canary-errors': {
        if (!rel || !service) return;
        service.slots[rel.toSlot].set({ errorRate: 0.5 });
        return this.note(`canary ${name} ${rel.toSlot} starts failing 50 % of requests`);
      }
      case 'status': {
        const sent = await this.command('U0DEV2', '/release', `status ${name}`);
        return say(`/release status ${name}`, sent);
      }
      case 'wait': {
        // Long enough for a step or a hold to move on (the soak's timings are seconds).
        const ms = 250 + Math.floor(v1 * 650);
        await sleep(ms);
        return this.note(`wait ${ms} ms`);
      }
      case 'duplicate': {
        const prev = this.lastRequest;
        if (!prev) return;
        const sent = await this.post(
          { ...prev, kind: 'duplicate', label: `duplicate of #${prev.n}` },
          true,
        );
        return this.note(
          `duplicate delivery (X-Slack-Retry-Num: 1) of "${prev.label}" → HTTP ${sent.status ?? sent.error}`,
        );
      }
      case 'double-send': {
        // The same request delivered twice at once (a retry racing the original).
        const releases = await this.state.releases(name);
        const target = rel ?? releases.at(-1);
        let body: { raw: string; responseUrl: string; triggerId?: string; label: string };
        if (target && v1 < 0.6) {
          const action =
            target.state === 'awaiting_approval'
              ? 'release_approve'
              : target.state === 'ramping'
                ? 'release_promote'
                : 'release_rollback';
          const missing = missingRoles(target)[0] ?? 'lead';
          const user =
            (ROLE_USERS[missing] ?? ['U0LEAD']).find((u) => u !== target.requester) ?? 'U0LEAD';
          body = {
            ...this.clickBody(user, action, target.id, name),
            label: `click ${action} ${target.id} as ${user}`,
          };
        } else {
          const responseUrl = this.world.slack.newResponseUrl();
          const text = v2 < 0.5 ? name : `${name} patch`;
          const command = v2 < 0.5 ? '/release' : '/bump';
          body = {
            raw: slashCommandBody({
              command,
              text,
              user_id: 'U0DEV1',
              channel_id: service?.channel ?? 'C0API',
              response_url: responseUrl,
            }),
            responseUrl,
            label: `${command} ${text} as U0DEV1`,
          };
        }
        const kindOf = body.raw.startsWith('payload=') ? ('click' as const) : ('command' as const);
        const [a, b] = await Promise.all([
          this.post({
            label: body.label,
            kind: kindOf,
            raw: body.raw,
            responseUrl: body.responseUrl,
            ...(body.triggerId ? { triggerId: body.triggerId } : {}),
            user: 'U0DEV1',
          }),
          this.post(
            { label: `${body.label} (retry)`, kind: 'duplicate', raw: body.raw, user: 'U0DEV1' },
            true,
          ),
        ]);
        return this.note(
          `double delivery: ${body.label} → ${short(await this.awaitAnswer(a))} / retry HTTP ${b.status ?? b.error}`,
        );
      }
      case 'stale': {
        // Two more uniforms from the step's draws (the draw count per step stays fixed).
        const pickRendering = (v1 * 9973) % 1;
        const onLive = (v2 * 7919) % 1 < 0.3;
        const releases = await this.state.releases(name);
        const older = releases.filter((r) => r.id !== rel?.id);
        // An older release's message, or the live release's message as an earlier stage drew it.
        const target = (onLive ? rel : undefined) ?? older[Math.floor(v1 * older.length)] ?? rel;
        if (!target) return this.note('stale click: no release yet');
        const actions = [
          'release_approve',
          'release_rollback',
          'release_rollback_approve',
          'release_promote',
          'release_pause',
          'release_resume',
          'release_abort',
          'release_reject',
        ];
        const action = actions[Math.floor(v2 * actions.length)] ?? 'release_approve';
        const user = ['U0LEAD', 'U0DEV2', 'U0CTO', 'U0SEC1'][Math.floor(v3 * 4)] ?? 'U0LEAD';
        if (action === 'release_reject') {
          const answer = await this.reject(user, target, 'stale ', pickRendering);
          return this.note(
            `stale reject ${target.id} (${target.state}) as ${user} → ${short(answer)}`,
          );
        }
        // Fenced for certain: a newer release of the service has moved traffic since (a newer
        // one that was only requested, rejected or cancelled leaves this one live).
        const newer = releases.slice(releases.findIndex((r) => r.id === target.id) + 1);
        const supersededBy = newer.find((r) =>
          ['switching', 'ramping', 'observing', 'released', 'rolling_back', 'rolled_back'].includes(
            r.state,
          ),
        );
        if (supersededBy !== undefined) {
          this.staleClicks.push({
            at: Date.now(),
            step: this.step,
            service: name,
            releaseId: target.id,
            supersededBy: `${supersededBy.id} (${supersededBy.state})`,
            button: action === 'release_rollback_approve' ? 'approve_rollback' : action.slice(8),
            user,
          });
        }
        // A button from any rendering of that release's message, or a forged bare id.
        const sent = await this.click(user, action, target.id, name, 'stale ', pickRendering);
        return say(`stale ${action} on ${target.id} (${target.state}) as ${user}`, sent);
      }
      case 'hostile-click': {
        // A click that must change nothing: on the current message, but from another channel
        // (a forwarded or forged payload), or by someone in no role and not an operator.
        if (!rel) return this.note('hostile click: no release yet');
        const actions = [
          'release_approve',
          'release_rollback',
          'release_rollback_approve',
          'release_promote',
          'release_pause',
          'release_resume',
          'release_abort',
        ];
        const action = actions[Math.floor(v2 * actions.length)] ?? 'release_approve';
        const foreign = v3 < 0.5;
        // U0OPS is an operator in no role that the workflow never uses: only its channel is wrong.
        const user = foreign ? 'U0OPS' : 'U0STRANGER';
        this.hostileClicks.push({
          at: Date.now(),
          step: this.step,
          service: name,
          releaseId: rel.id,
          supersededBy: foreign ? 'a click from another channel' : 'an unauthorised clicker',
          button: action === 'release_rollback_approve' ? 'approve_rollback' : action.slice(8),
          user,
        });
        const sent = await this.click(
          user,
          action,
          rel.id,
          name,
          foreign ? 'foreign-channel ' : 'unauthorised ',
          'current',
          foreign ? 'C0ELSEWHERE' : undefined,
        );
        return say(
          `${foreign ? 'foreign-channel' : 'unauthorised'} ${action} on ${rel.id} (${rel.state}) as ${user}`,
          sent,
        );
      }
      case 'kill-worker': {
        const delay = Math.floor(v1 * 1200);
        const targeted = v2 < 0.6;
        const task = (async () => {
          await sleep(delay);
          let victim = undefined as (typeof this.world.workers)[number] | undefined;
          let why = 'a random worker';
          if (targeted) {
            const active = (await this.world.steps.getActive()).filter((j) => !isSchedulerJob(j));
            const job = active[Math.floor(v3 * active.length)];
            victim = this.world.workers.find(
              (w) => job?.processedBy === `greenlight-${w.child.pid}`,
            );
            if (victim && job) why = `the worker running ${job.name} ${job.id}`;
          }
          victim ??= this.world.workers[Math.floor(v3 * this.world.workers.length)];
          if (victim === undefined) return;
          const record: ChaosRecord = {
            kind: 'kill-worker',
            start: Date.now(),
            end: Date.now(),
            detail: `SIGKILL ${why} (pid ${victim.child.pid})`,
          };
          this.chaos.push(record);
          await this.world.killWorker(victim);
          this.note(`  ↳ ${record.detail}`);
          await sleep(Math.floor(v2 * 1500));
          await this.world.startWorker();
          record.end = Date.now();
        })();
        this.track(task);
        return this.note(
          `kill a worker in ${delay} ms (${targeted ? 'the one running a step, if any' : 'any'})`,
        );
      }
      case 'kill-web': {
        await sleep(Math.floor(v1 * 400));
        const record: ChaosRecord = {
          kind: 'kill-web',
          start: Date.now(),
          end: Date.now(),
          detail: `SIGKILL the web process (pid ${this.world.web.child.pid})`,
        };
        this.chaos.push(record);
        await this.world.killWeb();
        record.end = Date.now();
        return this.note(`${record.detail}; restarted in ${record.end - record.start} ms`);
      }
      case 'redis-restart': {
        const record: ChaosRecord = {
          kind: 'redis-restart',
          start: Date.now(),
          end: Date.now(),
          detail: 'restart Redis (AOF)',
        };
        this.chaos.push(record);
        await this.world.redis.restart();
        record.end = Date.now();
        return this.note(`Redis restarted in ${record.end - record.start} ms`);
      }
      case 'haproxy-reload': {
        const record: ChaosRecord = {
          kind: 'haproxy-reload',
          start: Date.now(),
          end: Date.now(),
          detail: 'HAProxy reload (runtime weights lost)',
        };
        this.chaos.push(record);
        await this.world.haproxy.reload();
        record.end = Date.now();
        return this.note(`HAProxy reloaded in ${record.end - record.start} ms`);
      }
      case 'delete-job': {
        const jobs = (
          await this.world.steps.getJobs(['waiting', 'delayed', 'prioritized'], 0, 200)
        ).filter((j) => !isSchedulerJob(j));
        const job = jobs[Math.floor(v1 * jobs.length)];
        if (!job) return this.note('delete a job: none waiting or delayed');
        const removed = await job.remove().then(
          () => 'deleted',
          (e: unknown) => `not deleted (${short(String(e), 60)})`,
        );
        this.chaos.push({
          kind: 'delete-job',
          start: Date.now(),
          end: Date.now(),
          detail: `${job.name} ${job.id}`,
        });
        return this.note(
          `delete job ${job.name} ${job.id} (${await job.getState().catch(() => '?')}): ${removed}`,
        );
      }
    }
  }

  private track(task: Promise<void>): void {
    const wrapped = task.catch((error: unknown) =>
      this.note(`chaos task failed: ${String(error)}`),
    );
    this.pending.add(wrapped);
    void wrapped.finally(() => this.pending.delete(wrapped));
  }

  // ---- settling and judging answers ---------------------------------------------------------

  /**
   * Waits for our own disturbances to finish and the system to come to rest (or `maxMs`). Every
   * invariant compares consistent snapshots and holds mid-flight too, so an unsettled check is
   * still sound: the wait only makes quiet states likelier, and a canary ramp or a stability
   * window can outlast any short wait.
   */
  async settle(maxMs = 10_000): Promise<{ settled: boolean; ms: number; why: string }> {
    const began = Date.now();
    await Promise.all([...this.pending]);
    for (const s of Object.values(this.world.services)) {
      s.slots.blue.set({ errorRate: 0 });
      s.slots.green.set({ errorRate: 0 });
    }
    // Replace any process that died on its own, so the check judges a running system.
    await this.world.ensureRunning(2);
    // The wait for rest counts from here: a restart on a busy machine must not use it up.
    const started = Date.now();
    let lastKey = '';
    let stableSince = Date.now();
    let why = '';
    while (Date.now() - started < maxMs) {
      const jobs = (
        await this.world.steps.getJobs(['active', 'waiting', 'prioritized'], 0, 100)
      ).filter((j) => !isSchedulerJob(j));
      const views = await Promise.all(
        Object.keys(this.world.services).map((n) => this.state.view(n)),
      );
      const key = views.map(restKey).join('|');
      const moving = views.filter(
        (v) =>
          (v.service?.operation &&
            ['bump', 'sync', 'rollback'].includes(v.service.operation.kind)) ||
          (v.last && ['switching', 'rolling_back'].includes(v.last.state)) ||
          // A canary whose hold ended without evidence waits for a person's Promote: at rest.
          (v.last?.state === 'ramping' && !v.last.paused && !v.last.canary?.awaitingPromotion),
      );
      why =
        jobs.length > 0
          ? `jobs ${jobs.map((j) => `${j.name}`).join(',')}`
          : moving.length > 0
            ? moving
                .map(
                  (v) =>
                    `${v.name} ${v.service?.operation?.kind ?? ''} ${v.last?.state ?? ''}${v.last?.canary ? ` step ${v.last.canary.stepIndex}` : ''}`,
                )
                .join(', ')
            : key !== lastKey
              ? 'state changing'
              : 'stable';
      if (key !== lastKey || jobs.length > 0 || moving.length > 0) {
        lastKey = key;
        stableSince = Date.now();
      } else if (Date.now() - stableSince >= 1500) {
        return { settled: true, ms: Date.now() - began, why };
      }
      await sleep(200);
    }
    return { settled: false, ms: Date.now() - began, why };
  }

  /** Every command and click got an answer: HTTP 200 with a body, a response_url post, a modal. */
  async checkAnswers(graceMs = 10_000): Promise<Violation[]> {
    const violations: Violation[] = [];
    const todo = this.requests.slice(this.answersJudged);
    this.answersJudged = this.requests.length;
    for (const sent of todo) {
      while (
        this.answerOf(sent) === undefined &&
        Date.now() - sent.sentAt < graceMs &&
        !sent.error
      ) {
        await sleep(100);
      }
      if (this.answerOf(sent) !== undefined) continue;
      const around = this.chaos
        .filter((c) => c.start >= sent.sentAt - 2000 && c.start <= sent.sentAt + graceMs)
        .map((c) => `${c.detail} at +${c.start - sent.sentAt} ms`)
        .join('; ');
      violations.push({
        invariant: 'every command got an answer',
        detail: `request #${sent.n} (step ${sent.step}) "${sent.label}": ${sent.error ? `failed: ${sent.error}` : `HTTP ${sent.status}, no body, no response_url post within ${graceMs / 1000} s`}${around ? ` (near: ${around})` : ''}`,
      });
    }
    return violations;
  }
}
