import type { CommsConfig } from '../config/comms-schema.ts';
import type { Release } from '../domain/release.ts';
import type { NoticeKind, WebhookEventName } from '../domain/release-comms.ts';

/**
 * Alertmanager silences held as a lease for a release: created when traffic starts to move,
 * pushed forward while it moves, cut to a short tail when it ends. One silence per release,
 * found again after a restart (or a lost record) rather than made twice.
 */
export interface AlertSilences {
  /** Creates the release's silence, or moves the end of the one it has, to `until`; its id. */
  hold(release: Release, until: Date): Promise<string>;
  /** Ends the release's silence at `until`, never later than it already ends; none: nothing. */
  cut(release: Release, until: Date): Promise<void>;
}

/** An incident report link recorded after a rollback. */
export interface IncidentLink {
  readonly url: string;
  readonly by: string;
  readonly at: string;
}

export type ReminderStage = 'due' | 'overdue';

/** Messages to stakeholder channels, each sent once per release and kind. */
export interface StakeholderNotices {
  notice(release: Release, kind: NoticeKind): Promise<void>;
  /** The incident reminder, drawn at a stage and with the link when one is recorded. */
  incidentReminder(release: Release, stage: ReminderStage, link?: IncidentLink): Promise<void>;
}

export interface IncidentLinks {
  get(releaseId: string): Promise<IncidentLink | null>;
  set(releaseId: string, link: IncidentLink): Promise<void>;
}

/** Signed webhook events, delivered with retries; each (release, event, hook) once. */
export interface CommsWebhooks {
  send(release: Release, event: WebhookEventName): Promise<void>;
}

export interface CommsScheduler {
  /** Runs the comms step for a release soon; `tag` (a revision, a tick) makes repeats one job. */
  enqueue(releaseId: string, tag: string): Promise<void>;
  /** The incident reminder at a stage, at `at`; scheduling it again is a no-op. */
  scheduleReminder(releaseId: string, stage: ReminderStage, at: Date): Promise<void>;
}

/** Everything comms needs; absent, Greenlight tells nobody outside the release channel. */
export interface CommsDeps {
  readonly config: CommsConfig;
  readonly silences?: AlertSilences;
  readonly notices: StakeholderNotices;
  readonly webhooks: CommsWebhooks;
  readonly scheduler: CommsScheduler;
  readonly links: IncidentLinks;
}
