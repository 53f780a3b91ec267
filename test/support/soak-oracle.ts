import type { StaleClick } from './soak-driver.ts';
import {
  ACTIVE,
  type AuditRow,
  approvalCompletedAt,
  desiredSplit,
  other,
  SLOT_NAMES,
  type Slot,
  type SoakState,
  type StoredRelease,
  type StoredService,
  servedSplit,
  viewKey,
} from './soak-state.ts';
import type { SoakWorld } from './soak-world.ts';

/**
 * The soak test's invariants, judged from what is (Redis records, the audit stream, HAProxy's
 * runtime state, answers through HAProxy's frontend), never from chat replies.
 */

export interface Violation {
  readonly invariant: string;
  readonly detail: string;
}

/** Disturbances the test caused, so the oracle can tell a repair from a fault. */
export interface ChaosRecord {
  readonly kind: 'kill-worker' | 'kill-web' | 'redis-restart' | 'haproxy-reload' | 'delete-job';
  readonly start: number;
  end: number;
  readonly detail: string;
}

export const BOOTSTRAP_VERSION = '2.4.0';
const TERMINAL_SWITCHED = ['released', 'observing'];

/**
 * What a starved machine adds to any "by then" the oracle allows: the soak runs beside the other
 * test files on two cores, where a worker's timers and its sweeper can run seconds late. A state
 * that is stuck stays stuck past any margin, so this blunts no check of "never waits forever".
 */
const STARVED_MS = 6000;

interface TrafficSet {
  readonly id: string;
  readonly at: number;
  readonly service: string;
  readonly releaseId?: string;
  readonly before?: Record<Slot, number>;
  readonly after: Record<Slot, number>;
  readonly versions?: Record<Slot, string | null>;
}

const weightsOf = (value: unknown): Record<Slot, number> | undefined => {
  const w = (value as { weights?: Record<string, unknown> } | undefined)?.weights;
  if (w === undefined || typeof w.blue !== 'number' || typeof w.green !== 'number')
    return undefined;
  return { blue: w.blue, green: w.green };
};

const sameWeights = (a?: Record<Slot, number>, b?: Record<Slot, number>) =>
  a !== undefined && b !== undefined && a.blue === b.blue && a.green === b.green;

const fmt = (w?: Record<Slot, number>) => (w ? `blue ${w.blue} / green ${w.green}` : 'unknown');

export class SoakOracle {
  private readonly world: SoakWorld;
  private readonly state: SoakState;
  private readonly chaos: readonly ChaosRecord[];
  /** Per service: version -> when its approvals were complete (ms). */
  private readonly approved = new Map<string, Map<string, number>>();
  private readonly audit: AuditRow[] = [];
  private auditCursor: string | undefined;
  private servedCursor = 0;
  readonly stats = {
    checks: 0,
    splitRetries: 0,
    servedSamples: 0,
    excusedSamples: 0,
    trafficSetEntries: 0,
    repairs: 0,
    auditGaps: 0,
    deploys: 0,
    unapprovedAfterReport: 0,
    notes: [] as string[],
  };

  constructor(world: SoakWorld, state: SoakState, chaos: readonly ChaosRecord[]) {
    this.world = world;
    this.state = state;
    this.chaos = chaos;
  }

  private configSteps(service: string): readonly number[] {
    return this.world.services[service]?.strategy === 'canary'
      ? this.world.timings.canarySteps
      : [100];
  }

  /** Runs every invariant once; the system is expected to have settled. */
  async checkAll(
    staleClicks: readonly StaleClick[] = [],
    hostileClicks: readonly StaleClick[] = [],
  ): Promise<Violation[]> {
    this.stats.checks += 1;
    const releases = new Map<string, StoredRelease[]>();
    for (const name of Object.keys(this.world.services)) {
      const list = await this.state.releases(name);
      releases.set(name, list);
      const versions = this.approved.get(name) ?? new Map<string, number>();
      for (const r of list) {
        const at = approvalCompletedAt(r);
        if (at !== undefined) versions.set(r.version, Math.min(versions.get(r.version) ?? at, at));
      }
      this.approved.set(name, versions);
    }
    this.audit.push(...(await this.state.audit(this.auditCursor)));
    this.auditCursor = this.audit.at(-1)?.id ?? this.auditCursor;
    return [
      ...(await this.checkSplit()),
      ...(await this.checkDeadlines(releases)),
      ...this.checkServed(),
      ...this.checkAuditedSwitches(releases),
      ...(await this.checkProductionRunsStoredVersion()),
      ...(await this.checkDeploys()),
      ...this.checkStaleClicks(staleClicks),
      ...this.checkHostileClicks(hostileClicks),
      ...this.checkCrashes(),
    ];
  }

  /** Within about two reconcile intervals of settling, HAProxy serves the desired split. */
  private async checkSplit(): Promise<Violation[]> {
    const violations: Violation[] = [];
    const patienceMs = 2 * this.world.timings.reconcileSeconds * 1000 + STARVED_MS;
    for (const name of Object.keys(this.world.services)) {
      const first = Date.now();
      let started = first;
      let last = '';
      for (;;) {
        const before = await this.state.view(name);
        const states = await this.world.haproxy.serverStates(name);
        const after = await this.state.view(name);
        if (viewKey(before) !== viewKey(after)) continue;
        // A switch or rollback in progress moves traffic on purpose: patience counts from when
        // it is over (a stuck one is the deadline check's to find; a minute caps the wait).
        if (
          ['switching', 'rolling_back'].includes(after.last?.state ?? '') &&
          Date.now() - first < 60_000
        )
          started = Date.now();
        const desired = desiredSplit(after, this.configSteps(name));
        const served = servedSplit(states);
        if (desired !== undefined && served !== undefined && sameWeights(desired, served.split))
          break;
        last = `${name}: desired ${fmt(desired)} (production ${after.service?.production}, last release ${after.last?.id ?? 'none'} ${after.last?.state ?? ''}${after.last?.canary ? ` step ${after.last.canary.stepIndex}` : ''}), HAProxy serves ${fmt(served?.split)} [${served?.raw}]`;
        if (Date.now() - started > patienceMs) {
          violations.push({ invariant: 'the proxy serves the desired split', detail: last });
          break;
        }
        this.stats.splitRetries += 1;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    return violations;
  }

  /**
   * A margin past a deadline: two reconcile intervals and a starved machine's delay, plus recovery
   * from our own disturbances.
   */
  private marginMs(deadline: number): number {
    const t = this.world.timings;
    let margin = 2 * t.reconcileSeconds * 1000 + STARVED_MS;
    const disturbed = this.chaos.filter(
      (c) =>
        c.kind !== 'delete-job' &&
        c.kind !== 'haproxy-reload' &&
        c.end >= deadline - t.deployTimeoutSeconds * 1000,
    );
    if (disturbed.length > 0) margin += 2 * t.stalledMs + 3000;
    for (const c of disturbed) margin += Math.max(0, c.end - c.start);
    return margin;
  }

  /**
   * The oracle's deadline for a release in its current state. States count from `stateSince`
   * when the core records it (else from what the record shows): approval pending and switching
   * by their configured minutes; a pause by pausedMinutes; a canary hold by holdMinutes plus two
   * analysis intervals; a stability window by observeUntil; a rollback by switchMinutes plus a
   * redeploy.
   */
  private deadlineOf(r: StoredRelease): { at: number; what: string } | undefined {
    const t = this.world.timings;
    const minutes = (m: number) => m * 60_000;
    const stateSince = typeof r.stateSince === 'string' ? Date.parse(r.stateSince) : undefined;
    const lastApproval = Math.max(
      Date.parse(r.createdAt),
      ...(r.approvals ?? []).map((a) => Date.parse(a.at)),
    );
    const timeline = (r.timeline as { at: string }[] | undefined) ?? [];
    const lastEvent = Math.max(0, ...timeline.map((e) => Date.parse(e.at)));
    switch (r.state) {
      case 'awaiting_approval': {
        const since = stateSince ?? Date.parse(r.createdAt);
        return {
          at: since + minutes(t.approvalMinutes),
          what: `approval pending since ${new Date(since).toISOString()} (approvalMinutes ${t.approvalMinutes})`,
        };
      }
      case 'switching': {
        const since = stateSince ?? lastApproval;
        return {
          at: since + minutes(t.switchMinutes),
          what: `switching since ${new Date(since).toISOString()} (switchMinutes ${t.switchMinutes})`,
        };
      }
      case 'ramping':
      case 'observing': {
        if (r.paused) {
          return {
            at: Date.parse(r.paused.at) + minutes(t.pausedMinutes),
            what: `paused since ${r.paused.at} (${r.paused.reason}; pausedMinutes ${t.pausedMinutes})`,
          };
        }
        if (r.state === 'observing') {
          return r.observeUntil
            ? { at: Date.parse(r.observeUntil), what: `observing until ${r.observeUntil}` }
            : undefined;
        }
        // Waiting for Promote (anyway): rolled back pausedMinutes after it was asked for.
        if (r.canary?.awaitingPromotion && r.canary.promptedAt) {
          return {
            at: Date.parse(r.canary.promptedAt) + minutes(t.pausedMinutes) + 2000,
            what: `waiting for Promote since ${r.canary.promptedAt} (pausedMinutes ${t.pausedMinutes} + 2 analysis intervals)`,
          };
        }
        // A resume restarts nothing the record shows, so count from its latest event too.
        const since = Math.max(
          Date.parse(r.canary?.stepStartedAt ?? r.updatedAt),
          stateSince ?? 0,
          lastEvent,
        );
        return {
          at: since + minutes(t.holdMinutes) + 2000,
          what: `canary step ${r.canary?.stepIndex} (${r.canary?.steps?.[r.canary.stepIndex ?? 0]} %) held since ${new Date(since).toISOString()} (holdMinutes ${t.holdMinutes} + 2 analysis intervals)`,
        };
      }
      case 'rolling_back': {
        const since = stateSince ?? Date.parse(r.rollback?.at ?? r.updatedAt);
        return {
          at:
            since +
            minutes(t.switchMinutes) +
            (t.deployTimeoutSeconds + t.readyTimeoutSeconds) * 1000,
          what: `rolling back since ${new Date(since).toISOString()} (switchMinutes + a redeploy)`,
        };
      }
      default:
        return undefined;
    }
  }

  /** No release or operation sits in an active state past its deadline (plus a margin). */
  private async checkDeadlines(releases: Map<string, StoredRelease[]>): Promise<Violation[]> {
    const violations: Violation[] = [];
    const now = Date.now();
    const t = this.world.timings;
    for (const [name, list] of releases) {
      for (const r of list) {
        if (!ACTIVE.includes(r.state)) continue;
        const deadline = this.deadlineOf(r);
        if (deadline === undefined) continue;
        const margin = this.marginMs(deadline.at);
        if (now > deadline.at + margin) {
          violations.push({
            invariant: 'no release sits in an active state past its deadline',
            detail: `${name} ${r.id} (${r.version}) is ${r.state}${r.paused ? ' (paused)' : ''} ${Math.round((now - deadline.at) / 1000)} s past its deadline: ${deadline.what}; margin ${Math.round(margin / 1000)} s`,
          });
        }
      }
      const service = await this.state.service(name);
      const op = service?.operation;
      if (op && (op.kind === 'bump' || op.kind === 'sync')) {
        const deadline =
          Date.parse(op.startedAt) + (t.deployTimeoutSeconds + t.readyTimeoutSeconds) * 1000;
        const margin = this.marginMs(deadline);
        if (now > deadline + margin) {
          violations.push({
            invariant: 'no operation sits in an active state past its deadline',
            detail: `${name}: /${op.kind} ${op.version ?? ''} (${op.id}) started ${op.startedAt}, ${Math.round((now - deadline) / 1000)} s past deploy timeout + ready timeout; margin ${Math.round(margin / 1000)} s`,
          });
        }
      }
    }
    return violations;
  }

  private approvedAt(service: string, version: string | null | undefined): number | undefined {
    if (version === BOOTSTRAP_VERSION) return Number.NEGATIVE_INFINITY;
    if (version === null || version === undefined) return undefined;
    return this.approved.get(service)?.get(version);
  }

  /** Right after a reload HAProxy serves its config file's weights until Greenlight repairs it. */
  private excused(at: number): boolean {
    // A deploy's start is stamped by its process, which a starved machine spawns late: a check
    // made while HAProxy reloaded can show up seconds after the reload ended.
    const graceMs = 2 * this.world.timings.reconcileSeconds * 1000 + STARVED_MS;
    return this.chaos.some(
      (c) => c.kind === 'haproxy-reload' && at >= c.start - 200 && at <= c.end + graceMs,
    );
  }

  /**
   * No version that was not approved ever served traffic: every answer through the frontend,
   * and every slot a 'traffic set' entry gave weight, runs the bootstrap version or a version
   * whose approvals were complete by then.
   */
  private checkServed(): Violation[] {
    const violations: Violation[] = [];
    const samples = this.world.served.slice(this.servedCursor);
    this.servedCursor += samples.length;
    const bad = new Map<string, { first: number; n: number; slot: string }>();
    for (const s of samples) {
      if (s.status !== 200) continue;
      this.stats.servedSamples += 1;
      const approvedAt = this.approvedAt(s.service, s.version);
      if (approvedAt !== undefined && approvedAt <= s.at + 1000) continue;
      if (this.excused(s.at)) {
        this.stats.excusedSamples += 1;
        continue;
      }
      const key = `${s.service} ${s.version}`;
      const seen = bad.get(key) ?? { first: s.at, n: 0, slot: s.slot ?? '' };
      seen.n += 1;
      bad.set(key, seen);
    }
    for (const [key, seen] of bad) {
      // Reported once per version; later checks only count the requests it keeps answering.
      if (this.reportedUnapproved.has(key)) {
        this.stats.unapprovedAfterReport += seen.n;
        continue;
      }
      this.reportedUnapproved.add(key);
      violations.push({
        invariant: 'no version that was not approved ever served traffic',
        detail: `${key} answered ${seen.n} request(s) through HAProxy from ${seen.slot}, first at ${new Date(seen.first).toISOString()}, without complete approvals by then`,
      });
    }
    const sets = this.trafficSets();
    for (const e of sets.slice(this.checkedTrafficSets)) {
      for (const slot of SLOT_NAMES) {
        if ((e.after[slot] ?? 0) <= 0) continue;
        const version = e.versions?.[slot];
        const approvedAt = this.approvedAt(e.service, version);
        if (approvedAt === undefined || approvedAt > e.at + 1000) {
          violations.push({
            invariant: 'no version that was not approved ever served traffic',
            detail: `audit ${e.id}: 'traffic set' gave ${e.service} ${slot} weight ${e.after[slot]} running ${version ?? 'an unknown version'}, not approved by ${new Date(e.at).toISOString()}`,
          });
        }
      }
    }
    this.checkedTrafficSets = sets.length;
    return violations;
  }

  private checkedTrafficSets = 0;
  private readonly reportedUnapproved = new Set<string>();
  private reportedNoAudit = false;

  private trafficSets(): TrafficSet[] {
    const out: TrafficSet[] = [];
    for (const row of this.audit) {
      const e = row.entry;
      if (e.what !== 'traffic set') continue;
      const after = weightsOf(e.after);
      if (after === undefined || e.service === undefined) continue;
      const versions = (e.after as { versions?: Record<Slot, string | null> }).versions;
      out.push({
        id: row.id,
        at: Date.parse(e.at),
        service: e.service,
        ...(e.releaseId ? { releaseId: e.releaseId } : {}),
        ...(weightsOf(e.before) ? { before: weightsOf(e.before) } : {}),
        after,
        ...(versions ? { versions } : {}),
      });
    }
    return out;
  }

  /**
   * Each approval switched traffic exactly once, counted from the audit stream: per release,
   * each target weight of its toSlot (each canary step, or 100) is reached at most once, and a
   * released or observing release reached 100 exactly once. A 'traffic set' that repairs a
   * proxy an HAProxy reload reset is a repair, not a switch.
   */
  private checkAuditedSwitches(releases: Map<string, StoredRelease[]>): Violation[] {
    const violations: Violation[] = [];
    const sets = this.trafficSets();
    this.stats.trafficSetEntries = sets.length;
    // Only these states say traffic moved: a release that failed or was rolled back may have
    // ended before its switch did (HAProxy unreachable, a /rollback first), auditing nothing.
    const moved: readonly string[] = ['ramping', 'observing', 'released'];
    const switched = [...releases.values()]
      .flat()
      .filter((r) => approvalCompletedAt(r) !== undefined && moved.includes(r.state));
    if (sets.length === 0 && switched.length > 0) {
      if (this.reportedNoAudit) return [];
      this.reportedNoAudit = true;
      return [
        {
          invariant: 'each approval switched traffic exactly once (audit)',
          detail: `${switched.length} release(s) got all approvals (${switched.map((r) => `${r.id} ${r.state}`).join(', ')}) but the audit stream holds no 'traffic set' entry at all: traffic changes are not audited, so switches cannot be counted`,
        },
      ];
    }
    const prevAfter = new Map<string, TrafficSet>();
    const switches: TrafficSet[] = [];
    let repairs = 0;
    let gaps = 0;
    for (const e of sets) {
      const prev = prevAfter.get(e.service);
      prevAfter.set(e.service, e);
      if (prev !== undefined && e.before !== undefined && !sameWeights(prev.after, e.before)) {
        const reloaded = this.chaos.some(
          (c) => c.kind === 'haproxy-reload' && c.end >= prev.at - 500 && c.start <= e.at + 500,
        );
        if (reloaded) {
          repairs += 1;
          continue;
        }
        gaps += 1;
        if (gaps <= 5)
          this.stats.notes.push(
            `audit gap: ${e.service} ${e.id} found ${fmt(e.before)} but the previous 'traffic set' (${prev.id}) left ${fmt(prev.after)}, with no HAProxy reload between`,
          );
      }
      switches.push(e);
    }
    this.stats.repairs = repairs;
    this.stats.auditGaps = gaps;
    for (const r of [...releases.values()].flat()) {
      const mine = switches.filter((e) => e.releaseId === r.id);
      const targets = [
        ...new Set(
          r.strategy === 'canary' ? (r.canary?.steps ?? this.configSteps(r.service)) : [100],
        ),
      ];
      if (!targets.includes(100)) targets.push(100);
      const reached = (w: number) =>
        mine.filter((e) => e.after[r.toSlot] === w && e.before?.[r.toSlot] !== w);
      for (const w of targets) {
        const hits = reached(w);
        if (hits.length > 1) {
          violations.push({
            invariant: 'each approval switched traffic exactly once (audit)',
            detail: `${r.service} ${r.id} (${r.version}, ${r.state}) moved ${r.toSlot} to ${w} % ${hits.length} times. ${this.trafficStory(sets, r)}`,
          });
        }
      }
      if (approvalCompletedAt(r) === undefined && mine.some((e) => (e.after[r.toSlot] ?? 0) > 0)) {
        violations.push({
          invariant: 'each approval switched traffic exactly once (audit)',
          detail: `${r.service} ${r.id} (${r.version}, ${r.state}) never got all approvals but ${mine.length} 'traffic set' entr(ies) gave ${r.toSlot} weight`,
        });
      }
      if (TERMINAL_SWITCHED.includes(r.state)) {
        const full = sets.filter(
          (e) => e.releaseId === r.id && e.after[r.toSlot] === 100 && e.before?.[r.toSlot] !== 100,
        );
        const reloadedMeanwhile = this.chaos.some(
          (c) =>
            c.kind === 'haproxy-reload' &&
            c.end >= Date.parse(r.createdAt) &&
            c.start <= Date.parse(r.updatedAt),
        );
        if (full.length === 0 && reloadedMeanwhile) {
          // A reload resets HAProxy to its file (blue 100): it may have done the switch itself.
          this.stats.notes.push(
            `${r.id} is ${r.state} with no audited move of ${r.toSlot} to 100 %, but HAProxy was reloaded meanwhile`,
          );
        } else if (full.length === 0) {
          violations.push({
            invariant: 'each approval switched traffic exactly once (audit)',
            detail: `${r.service} ${r.id} (${r.version}) is ${r.state} but no 'traffic set' entry with its releaseId moved ${r.toSlot} to 100 %. ${this.trafficStory(sets, r)}`,
          });
        }
      }
    }
    return violations;
  }

  /** The service's 'traffic set' entries from the release's creation to its end, for a report. */
  private trafficStory(sets: TrafficSet[], r: StoredRelease): string {
    const from = Date.parse(r.createdAt) - 1000;
    const timeline = (r.timeline as { at: string; what: string }[] | undefined) ?? [];
    const until =
      Math.max(Date.parse(r.updatedAt), ...timeline.map((e) => Date.parse(e.at))) + 5000;
    const entries = sets
      .filter((e) => e.service === r.service && e.at >= from && e.at <= until)
      .map(
        (e) =>
          `${new Date(e.at).toISOString().slice(11, 23)} ${e.id} [${e.releaseId ?? 'no release'}] ${fmt(e.before)} -> ${fmt(e.after)}`,
      );
    const story = timeline.map((e) => `${e.at.slice(11, 23)} ${e.what}`);
    const chaos = this.chaos
      .filter((c) => c.end >= from && c.start <= until)
      .map((c) => `${new Date(c.start).toISOString().slice(11, 23)} ${c.kind}: ${c.detail}`);
    return `Traffic set entries: ${entries.join(' | ') || 'none'}. Release timeline: ${story.join(' | ')}. Disturbances: ${chaos.join(' | ') || 'none'}`;
  }

  /** Extra: the slot Redis calls PRODUCTION runs the version Redis says it runs. */
  private async checkProductionRunsStoredVersion(): Promise<Violation[]> {
    const violations: Violation[] = [];
    for (const [name, svc] of Object.entries(this.world.services)) {
      const view = await this.state.view(name);
      const service: StoredService | null = view.service;
      if (service === null || service.operation !== null) continue;
      if (view.last && ['switching', 'rolling_back'].includes(view.last.state)) continue;
      const stored = service.slots[service.production]?.version;
      const actual = svc.slots[service.production].state.version;
      if (stored !== actual) {
        violations.push({
          invariant: 'PRODUCTION runs the version Redis records (extra)',
          detail: `${name}: PRODUCTION is ${service.production}, Redis says ${stored}, the slot runs ${actual} (STANDBY ${other(service.production)}: Redis ${service.slots[other(service.production)]?.version}, slot ${svc.slots[other(service.production)].state.version})`,
        });
      }
    }
    return violations;
  }

  private deploysSeen = 0;

  /**
   * Extra (the emergency path and one deploy per slot): no deploy starts while another deploy
   * process for the same slot is alive, and none starts on a slot HAProxy has serving traffic
   * (outside the moments after a reload, when HAProxy serves its config file's weights).
   */
  private async checkDeploys(): Promise<Violation[]> {
    const violations: Violation[] = [];
    const runs = await this.world.deployRuns();
    const fresh = runs.slice(this.deploysSeen);
    this.deploysSeen = runs.length;
    this.stats.deploys += fresh.filter((r) => r.event === 'start').length;
    for (const run of fresh) {
      if (run.event !== 'start') continue;
      const what = `deploy of ${run.service} ${run.version} to ${run.slot} (pid ${run.pid}, ${run.releaseId}) at ${new Date(run.at).toISOString()}`;
      if (run.concurrentWith !== undefined) {
        violations.push({
          invariant: 'one deploy per slot at a time (extra)',
          detail: `${what} started while deploy process ${run.concurrentWith} for the same slot was still alive`,
        });
      }
      if (run.serving === true && !this.excused(run.at)) {
        violations.push({
          invariant: 'nothing is deployed onto a slot serving traffic (extra)',
          detail: `${what} started while HAProxy had ${run.slot} taking traffic: ${run.servers}`,
        });
      }
    }
    return violations;
  }

  private staleSeen = 0;

  /** Extra (fencing): a click on a release that is not its service's last one changes nothing. */
  private checkStaleClicks(clicks: readonly StaleClick[]): Violation[] {
    const violations: Violation[] = [];
    const fresh = clicks.slice(this.staleSeen);
    this.staleSeen = clicks.length;
    for (const click of fresh) {
      const accepted = this.audit.find((row) => {
        const e = row.entry;
        const at = Date.parse(e.at);
        return (
          e.what === `clicked ${click.button}` &&
          e.releaseId === click.releaseId &&
          e.who === click.user &&
          at >= click.at - 2000 &&
          at <= click.at + 15_000 &&
          (e.after as { answer?: unknown } | undefined)?.answer !== undefined
        );
      });
      if (accepted) {
        violations.push({
          invariant: 'a stale click is refused (extra)',
          detail: `step ${click.step}: ${click.user} clicked ${click.button} on ${click.service} ${click.releaseId} after the newer release ${click.supersededBy ?? 'none'} had moved traffic, and it was carried out: "${(accepted.entry.after as { answer?: string }).answer}"`,
        });
      }
    }
    return violations;
  }

  private hostileSeen = 0;
  /**
   * A click from another channel, or by someone in no role and not an operator, changes
   * nothing: its audit entry is a refusal, and no transition is recorded in that clicker's name.
   */
  private checkHostileClicks(clicks: readonly StaleClick[]): Violation[] {
    const violations: Violation[] = [];
    const fresh = clicks.slice(this.hostileSeen);
    this.hostileSeen = clicks.length;
    for (const click of fresh) {
      const near = (at: string) => {
        const t = Date.parse(at);
        return t >= click.at - 2000 && t <= click.at + 15_000;
      };
      const acted = this.audit.find((row) => {
        const e = row.entry;
        if (!near(e.at) || e.releaseId !== click.releaseId || e.who !== click.user) return false;
        const carriedOut =
          e.what === `clicked ${click.button}` &&
          (e.after as { answer?: unknown } | undefined)?.answer !== undefined;
        const transitionByStranger = click.user === 'U0STRANGER' && e.what.startsWith('release ');
        return carriedOut || transitionByStranger;
      });
      if (acted) {
        violations.push({
          invariant: 'a foreign-channel or unauthorised click changes nothing',
          detail: `step ${click.step}: ${click.supersededBy}: ${click.user} clicked ${click.button} on ${click.service} ${click.releaseId} and "${acted.entry.what}" was recorded`,
        });
      }
    }
    return violations;
  }

  private crashesSeen = 0;
  private checkCrashes(): Violation[] {
    const fresh = this.world.crashes.slice(this.crashesSeen);
    this.crashesSeen = this.world.crashes.length;
    return fresh.map((c) => ({
      invariant: 'no Greenlight process dies on its own',
      detail: `${c.role} exited with ${c.code} at ${new Date(c.at).toISOString()}:\n    ${c.tail.slice(-8).join('\n    ')}`,
    }));
  }
}
