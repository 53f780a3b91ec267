import type { Queue } from 'bullmq';
import type { DeployNotice, FlagNotice, Notifier } from '../../app/ports.ts';
import type { GreenlightConfig } from '../../config/greenlight-schema.ts';
import { missingRoles, type Release } from '../../domain/release.ts';
import type { ServiceState } from '../../domain/service-state.ts';
import { adoptedMessage, driftMessage, rollbackAlert } from './blocks/alerts.ts';
import type { SlackMessage } from './blocks/block-kit.ts';
import { postChecklistMessage } from './blocks/checklist-blocks.ts';
import { deployMessage } from './blocks/deploy-messages.ts';
import { flagMessage } from './blocks/flag-messages.ts';
import { releaseParentMessage } from './blocks/release-card.ts';
import { releaseNotesMessage } from './blocks/release-notes-thread.ts';
import {
  completionReport,
  noteMessage,
  progressMessage,
  timelineReply,
} from './blocks/thread-replies.ts';
import type { OutboxMessage } from './outbox-message.ts';

/** Keeps finished outbox jobs long enough that a re-run step re-enqueueing one is a no-op. */
const KEEP = {
  removeOnComplete: { age: 24 * 3600, count: 50_000 },
  removeOnFail: { age: 7 * 24 * 3600 },
};

/**
 * The Notifier behind the outbox: renders Block Kit and enqueues it, so a Slack outage delays
 * messages and loses none. Job ids derive from what the message says about (release revision,
 * timeline entry), so a step that runs twice does not post twice. Each message names its group
 * (the release, or the deploy operation) so that what Slack returned for it expires with it.
 */
export class SlackNotifier implements Notifier {
  private readonly queue: Queue;
  private readonly config: GreenlightConfig;

  constructor(queue: Queue, config: GreenlightConfig) {
    this.queue = queue;
    this.config = config;
  }

  private async send(
    jobId: string,
    message: Omit<OutboxMessage, 'v' | 'text' | 'blocks'>,
    body: SlackMessage,
  ): Promise<void> {
    const data: OutboxMessage = {
      v: 1,
      ...message,
      text: body.text,
      blocks: body.blocks,
    };
    // BullMQ refuses ids with ':' (and keys are built from times and ids): keep ids plain.
    await this.queue.add('slack-message', data, {
      jobId: jobId.replace(/[^A-Za-z0-9_.-]/g, '-'),
      ...KEEP,
    });
  }

  /** Where a reply in a release's thread goes: posted once, or upserted in place, under `key`. */
  private inThread(
    release: Release,
    channel: string,
    mode: 'post' | 'upsert',
    key: string,
  ): Omit<OutboxMessage, 'v' | 'text' | 'blocks'> {
    return { mode, key, group: release.id, channel, threadKey: `${release.id}-parent` };
  }

  private service(name: string) {
    const config = this.config.services[name];
    if (config === undefined) throw new Error(`unknown service ${name}`);
    return config;
  }

  async deployStarted(notice: DeployNotice): Promise<void> {
    const channel = this.service(notice.service).channel;
    await this.send(
      `${notice.operationId}-start`,
      { mode: 'upsert', key: notice.operationId, group: notice.operationId, channel },
      deployMessage(notice),
    );
  }

  async deployFinished(
    notice: DeployNotice,
    outcome: { ok: true } | { ok: false; reason: string; outputTail?: string },
  ): Promise<void> {
    const channel = this.service(notice.service).channel;
    await this.send(
      `${notice.operationId}-done`,
      { mode: 'upsert', key: notice.operationId, group: notice.operationId, channel },
      deployMessage(notice, outcome),
    );
  }

  async releaseChanged(release: Release, service: ServiceState): Promise<void> {
    const config = this.service(release.service);
    const parentKey = `${release.id}-parent`;
    await this.send(
      // Redrawn when the release or its service changes (a /sync changes the STANDBY line).
      `${parentKey}-r${release.revision}-s${service.revision}`,
      {
        mode: 'upsert',
        key: parentKey,
        group: release.id,
        channel: config.channel,
        // A service record adopted again after Redis lost it counts its revisions from 1 again:
        // when it was created orders it first.
        version: [release.revision, Date.parse(service.createdAt ?? '') || 0, service.revision],
      },
      releaseParentMessage(release, service, config, this.config.roles),
    );
    const reply = timelineReply(release);
    if (reply !== undefined) {
      const key = `${release.id}-t${release.timeline.length}`;
      await this.send(
        key,
        { mode: 'post', key, group: release.id, channel: config.channel, threadKey: parentKey },
        reply,
      );
    }
    // The transition that moved traffic: the checklist follows the completion report instead.
    if (release.releasedAt !== release.updatedAt) await this.postChecklist(release);
    // Released after a stability window: the completion report went out when traffic switched.
    if (release.state === 'released' && release.observeUntil !== undefined)
      await this.releaseNotes(release);
  }

  /**
   * The full notes in the thread, once: the key is the release's, so a retried step, a restart
   * or a second path to `released` finds it posted (the job id, then the outbox's posted keys).
   */
  private async releaseNotes(release: Release): Promise<void> {
    const message = releaseNotesMessage(release);
    if (message === undefined) return;
    const config = this.service(release.service);
    const key = `${release.id}-notes`;
    await this.send(key, this.inThread(release, config.channel, 'post', key), message);
  }

  /** The post-release checklist in the thread, posted once traffic moved and edited after. */
  private async postChecklist(release: Release): Promise<void> {
    const message = postChecklistMessage(release);
    if (message === undefined) return;
    const config = this.service(release.service);
    const key = `${release.id}-post-checklist`;
    await this.send(
      `${key}-r${release.revision}`,
      this.inThread(release, config.channel, 'upsert', key),
      message,
    );
  }

  async releaseNote(release: Release, key: string, text: string): Promise<void> {
    const config = this.service(release.service);
    const id = `${release.id}-note-${key}`;
    await this.send(id, this.inThread(release, config.channel, 'post', id), noteMessage(text));
  }

  async releaseReport(release: Release, service: ServiceState): Promise<void> {
    const config = this.service(release.service);
    const key = `${release.id}-report`;
    await this.send(
      key,
      this.inThread(release, config.channel, 'post', key),
      completionReport(release, service, config),
    );
    await this.postChecklist(release);
    // Released straight away (no stability window): the notes follow the report.
    if (release.state === 'released') await this.releaseNotes(release);
  }

  async rollbackAlert(
    release: Release,
    _service: ServiceState,
    status: 'in_progress' | 'done' | 'failed',
  ): Promise<void> {
    const config = this.service(release.service);
    const message = rollbackAlert(release, config, status);
    const parentKey = `${release.id}-parent`;
    const alertKey = `${release.id}-alert`;
    const suffix = `${status}-r${release.revision}`;
    await this.send(
      `${alertKey}-${suffix}`,
      {
        mode: 'upsert',
        key: alertKey,
        group: release.id,
        channel: this.config.alertsChannel,
        linkKey: parentKey,
      },
      message,
    );
    const threadKey = `${release.id}-alert-thread`;
    await this.send(
      `${threadKey}-${suffix}`,
      {
        mode: 'upsert',
        key: threadKey,
        group: release.id,
        channel: config.channel,
        threadKey: parentKey,
        linkKey: parentKey,
      },
      message,
    );
  }

  /**
   * With a live release the thread already has the change (its timeline entry); without one it
   * goes to the service channel. Turned off, it is an alert as well.
   */
  async flagChanged(notice: FlagNotice): Promise<void> {
    const config = this.service(notice.service);
    const release = notice.release;
    const id = `flag-${notice.service}-${notice.flag}-${release ? `${release.id}-r${release.revision}` : Date.now()}`;
    if (release === undefined)
      await this.send(
        id,
        { mode: 'post', key: id, group: id, channel: config.channel },
        flagMessage(notice, false),
      );
    if (notice.percent > 0) return;
    const alert = `${id}-alert`;
    await this.send(
      alert,
      {
        mode: 'post',
        key: alert,
        group: release?.id ?? id,
        channel: this.config.alertsChannel,
        ...(release ? { linkKey: `${release.id}-parent` } : {}),
      },
      flagMessage(notice, true),
    );
  }

  async adopted(service: string, channel: string, detail: string): Promise<void> {
    const key = `adopted-${service}-${Date.now()}`;
    await this.send(key, { mode: 'post', key, group: key, channel }, adoptedMessage(detail));
  }

  async drift(service: string, channel: string, detail: string): Promise<void> {
    const key = `drift-${service}-${Date.now()}`;
    await this.send(key, { mode: 'post', key, group: key, channel }, driftMessage(detail));
  }

  async progress(
    release: Release,
    _service: ServiceState,
    sequence: number,
    loadBalancers: readonly string[] = [],
  ): Promise<void> {
    const config = this.service(release.service);
    const key = `${release.id}-progress-${sequence}`;
    const message = progressMessage(
      release,
      config,
      new Date(),
      missingRoles(release),
      loadBalancers,
    );
    await this.send(key, this.inThread(release, config.channel, 'post', key), message);
  }
}
