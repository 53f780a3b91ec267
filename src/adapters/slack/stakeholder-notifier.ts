import type { Queue } from 'bullmq';
import type { IncidentLink, ReminderStage, StakeholderNotices } from '../../app/comms-ports.ts';
import type { GreenlightConfig } from '../../config/greenlight-schema.ts';
import type { Release } from '../../domain/release.ts';
import { incidentDue, type NoticeKind } from '../../domain/release-comms.ts';
import type { RedisOnceMarks } from '../redis/redis-once-marks.ts';
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
  private readonly marks: RedisOnceMarks;

  constructor(queue: Queue, config: GreenlightConfig, marks: RedisOnceMarks) {
    this.queue = queue;
    this.config = config;
    this.marks = marks;
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
      // The outbox forgets a job id a day after posting it; a rollback days later must not
      // post "Release started" again, so each notice is also marked beside the release.
      const mark = `notice-${kind}-${channel}`;
      if (await this.marks.has(release.id, mark)) continue;
      const key = `${release.id}-comms-${kind}-${channel}`;
      await this.send(
        key,
        { mode: 'post', key, group: release.id, channel, linkKey: `${release.id}-parent` },
        body,
      );
      await this.marks.mark(release.id, mark);
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
