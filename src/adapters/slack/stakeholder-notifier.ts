import type { Queue } from 'bullmq';
import type { IncidentLink, ReminderStage, StakeholderNotices } from '../../app/comms-ports.ts';
import type { GreenlightConfig } from '../../config/greenlight-schema.ts';
import type { Release } from '../../domain/release.ts';
import { incidentDue, type NoticeKind } from '../../domain/release-comms.ts';
import type { SlackMessage } from './blocks/block-kit.ts';
import { incidentReminder, stakeholderNotice } from './blocks/stakeholder-notices.ts';
import type { OutboxMessage } from './outbox-message.ts';

const KEEP = {
  removeOnComplete: { age: 24 * 3600, count: 50_000 },
  removeOnFail: { age: 7 * 24 * 3600 },
};

/**
 * Stakeholder messages through the same outbox as every other message: keyed by release, kind
 * and channel, so a comms step that runs twice (a retry, a restart, two workers) posts once.
 */
export class SlackStakeholderNotices implements StakeholderNotices {
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
    const data: OutboxMessage = { v: 1, ...message, text: body.text, blocks: body.blocks };
    await this.queue.add('slack-message', data, {
      jobId: jobId.replace(/[^A-Za-z0-9_.-]/g, '-'),
      ...KEEP,
    });
  }

  async notice(release: Release, kind: NoticeKind): Promise<void> {
    const body = stakeholderNotice(release, kind);
    for (const channel of this.config.comms.channels) {
      const key = `${release.id}-comms-${kind}-${channel}`;
      await this.send(
        key,
        { mode: 'post', key, group: release.id, channel, linkKey: `${release.id}-parent` },
        body,
      );
    }
  }

  async incidentReminder(release: Release, stage: ReminderStage, link?: IncidentLink) {
    const due = incidentDue(release, this.config.comms.incidentReport.dueHours);
    if (due === undefined) return;
    const body = incidentReminder(release, stage, due, link);
    // Without stakeholder channels, the reminder goes to the release's own channel.
    const own = this.config.services[release.service]?.channel;
    const channels = this.config.comms.channels.length > 0 ? this.config.comms.channels : [own];
    for (const channel of channels) {
      if (channel === undefined) continue;
      const key = `${release.id}-incident-${channel}`;
      await this.send(
        `${key}-${stage}-${link?.at ?? 'open'}`,
        { mode: 'upsert', key, group: release.id, channel },
        body,
      );
    }
  }
}
