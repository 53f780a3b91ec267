import { isActive, type Release } from '../../domain/release.ts';
import { commsPlan, incidentDue } from '../../domain/release-comms.ts';
import { audit, type Uses } from '../app-deps.ts';
import type { CommsDeps, IncidentLink, ReminderStage } from '../comms-ports.ts';
import { LockBusyError } from '../ports.ts';
import { ReleaseError } from '../release-error.ts';

const HOUR_MS = 3_600_000;

/** Comms is configured and covers the service (`comms.services`, unset: all of them). */
function covers(deps: Uses<'comms'>, service: string): boolean {
  const only = deps.comms?.config.services;
  return deps.comms !== undefined && (only === undefined || only.includes(service));
}

/**
 * Told of every committed change of a release's state. It only enqueues the comms step: nothing
 * outside Redis (Alertmanager, a webhook receiver) is waited on by a release step, and a failure
 * here is logged, never thrown into the release.
 */
export async function commsChanged(deps: Uses<'comms' | 'log'>, release: Release): Promise<void> {
  const comms = deps.comms;
  if (comms === undefined || !covers(deps, release.service)) return;
  try {
    await comms.scheduler.enqueue(release.id, `r${release.revision}`);
  } catch (error) {
    deps.log.warn({ err: error, releaseId: release.id }, 'could not enqueue the comms step');
  }
}

/**
 * The control loop's part: the silence of a live release is pushed forward (at most four times a
 * lease, however many replicas run the loop), and a release that ended within the last lease is
 * looked at again (its cut may have been lost with a crash; the lease bounds the silence anyway).
 */
export async function commsTick(
  deps: Uses<'clock' | 'comms' | 'store'>,
  service: string,
): Promise<void> {
  const comms = deps.comms;
  if (comms === undefined || !covers(deps, service)) return;
  const state = await deps.store.getService(service);
  if (state?.lastReleaseId == null) return;
  const release = await deps.store.getRelease(state.lastReleaseId);
  if (release === null || commsPlan(release).lease === 'none') return;
  const now = deps.clock.now().getTime();
  const leaseMs = (comms.config.alertmanager?.leaseSeconds ?? 600) * 1000;
  if (!isActive(release) && now - Date.parse(release.updatedAt) > leaseMs) return;
  const bucketMs = Math.max(1000, leaseMs / 4);
  await comms.scheduler.enqueue(release.id, `t${Math.floor(now / bucketMs)}`);
}

/**
 * The comms step for one release, from its stored state: notices, webhooks and reminders (each
 * sent once, so a re-run adds nothing) and the silence lease. Alertmanager being down is said
 * once in the release thread and never fails or holds up the release.
 */
export async function runCommsStep(
  deps: Uses<'clock' | 'comms' | 'locks' | 'log' | 'notifier' | 'store'>,
  job: { releaseId: string },
): Promise<void> {
  const comms = deps.comms;
  if (comms === undefined) return;
  const release = await deps.store.getRelease(job.releaseId);
  if (release === null || !covers(deps, release.service)) return;
  const plan = commsPlan(release);
  for (const kind of plan.notices) await comms.notices.notice(release, kind);
  for (const event of plan.webhooks) await comms.webhooks.send(release, event);
  if (plan.incidentReminder && release.rollback !== undefined) {
    const { remindAfterHours, dueHours } = comms.config.incidentReport;
    const rolledBackAt = Date.parse(release.rollback.at);
    await comms.scheduler.scheduleReminder(
      release.id,
      'due',
      new Date(rolledBackAt + remindAfterHours * HOUR_MS),
    );
    const due = incidentDue(release, dueHours);
    if (due !== undefined) await comms.scheduler.scheduleReminder(release.id, 'overdue', due);
  }
  // One silence per release: two comms steps at once (a change and a tick) must not both find
  // none and each create one. Whoever waits re-reads the release, so the later state wins.
  try {
    await deps.locks.withLock(
      `comms-silence-${release.id}`,
      30_000,
      async () => {
        const current = (await deps.store.getRelease(release.id)) ?? release;
        await holdOrCut(deps, comms, current, commsPlan(current).lease);
      },
      { waitMs: 15_000 },
    );
  } catch (error) {
    if (!(error instanceof LockBusyError)) throw error;
    deps.log.warn({ releaseId: release.id }, 'another comms step held the silence; next pass');
  }
}

async function holdOrCut(
  deps: Uses<'clock' | 'log' | 'notifier'>,
  comms: CommsDeps,
  release: Release,
  lease: 'hold' | 'cut' | 'none',
): Promise<void> {
  const settings = comms.config.alertmanager;
  if (settings === undefined || comms.silences === undefined || lease === 'none') return;
  const now = deps.clock.now().getTime();
  try {
    if (lease === 'hold')
      await comms.silences.hold(release, new Date(now + settings.leaseSeconds * 1000));
    else await comms.silences.cut(release, new Date(now + settings.tailSeconds * 1000));
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    deps.log.warn({ releaseId: release.id, err: error }, 'Alertmanager did not take the silence');
    await deps.notifier.releaseNote(
      release,
      'alertmanager-unreachable',
      `Alertmanager did not take the silence for this release (${reason}); the release goes on, and its alerts are not silenced until Alertmanager answers.`,
    );
  }
}

/** The reminder job: drawn at its stage unless the link is already recorded. */
export async function runIncidentReminder(
  deps: Uses<'clock' | 'comms' | 'store'>,
  job: { releaseId: string; stage: ReminderStage },
): Promise<void> {
  const comms = deps.comms;
  if (comms === undefined) return;
  const release = await deps.store.getRelease(job.releaseId);
  if (release?.state !== 'rolled_back') return;
  // Recorded already: the reminder was redrawn with the link then, nothing is due any more.
  if ((await comms.links.get(release.id)) !== null) return;
  // Jobs that both came due while workers were down may run in any order: the clock decides.
  const due = incidentDue(release, comms.config.incidentReport.dueHours);
  const stage: ReminderStage = due !== undefined && deps.clock.now() >= due ? 'overdue' : job.stage;
  await comms.notices.incidentReminder(release, stage);
}

/** An incident report's address as typed: http(s), no spaces, nothing Slack would read as markup. */
export function parseIncidentUrl(text: string): string | undefined {
  const trimmed = text.trim();
  if (trimmed.length > 500 || /[\s<>|"'`]/.test(trimmed)) return undefined;
  try {
    const url = new URL(trimmed);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
    if (url.username !== '' || url.password !== '') return undefined;
    return url.href;
  } catch {
    return undefined;
  }
}

/**
 * Records the incident report link of a rolled-back release and redraws the reminder with it.
 * `base` is the link the form was opened over (`null`: none): a form opened before someone else
 * recorded one cannot silently replace theirs, and the same link sent twice is recorded once.
 */
export async function recordIncidentLink(
  deps: Uses<'audit' | 'clock' | 'comms' | 'log' | 'store'>,
  input: { releaseId: string; url: string; user: string; base?: string | null },
): Promise<IncidentLink> {
  const comms = deps.comms;
  const release = await deps.store.getRelease(input.releaseId);
  if (
    comms === undefined ||
    release === null ||
    release.state !== 'rolled_back' ||
    !covers(deps, release.service)
  ) {
    throw new ReleaseError(
      'not_available',
      'Only a rolled-back release takes an incident report link.',
      'Use the button on the incident reminder of that rollback.',
    );
  }
  const url = parseIncidentUrl(input.url);
  if (url === undefined) {
    throw new ReleaseError(
      'not_available',
      'That is not an http(s) address.',
      'Paste the incident report link, e.g. https://incidents.example.com/123.',
    );
  }
  const before = await comms.links.get(release.id);
  if (before !== null && before.url === url) return before;
  if (input.base !== undefined && (before?.at ?? null) !== input.base && before !== null) {
    throw new ReleaseError(
      'stale',
      `<@${before.by}> recorded ${new URL(before.url).host} as the incident report while your form was open.`,
      'The reminder shows it; to replace it, click Change incident link there.',
    );
  }
  const link: IncidentLink = { url, by: input.user, at: deps.clock.now().toISOString() };
  await comms.links.set(release.id, link);
  await audit(deps, {
    who: input.user,
    what: 'incident report link recorded',
    service: release.service,
    releaseId: release.id,
    before: before ?? undefined,
    after: link,
  });
  const due = incidentDue(release, comms.config.incidentReport.dueHours);
  const stage: ReminderStage = due !== undefined && deps.clock.now() > due ? 'overdue' : 'due';
  await comms.notices.incidentReminder(release, stage, link);
  return link;
}
