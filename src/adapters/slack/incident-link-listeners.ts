import type { App, BlockButtonAction } from '@slack/bolt';
import type { WebClient } from '@slack/web-api';
import type { IncidentLink } from '../../app/comms-ports.ts';
import { ReleaseError } from '../../app/release-error.ts';
import { parseIncidentUrl } from '../../app/use-cases/release-comms.ts';
import type { Release } from '../../domain/release.ts';
import type { AppLogger } from '../../logger.ts';
import { answerMessage, refusalAnswer } from './blocks/private-answers.ts';
import {
  INCIDENT_LINK_ACTION,
  INCIDENT_LINK_MODAL,
  incidentLinkModal,
} from './blocks/stakeholder-notices.ts';
import { ephemeral } from './command-listeners.ts';

const RELEASE_ID = /^[A-Za-z0-9_.-]{1,100}$/;

export interface IncidentLinkDeps {
  readonly client: WebClient;
  readonly logger: AppLogger;
  readonly getRelease: (id: string) => Promise<Release | null>;
  /** The link recorded now: the form shows it and is fenced to it. */
  readonly currentLink: (releaseId: string) => Promise<IncidentLink | null>;
  /** Channels where the button counts: the stakeholder channels and the release's own. */
  readonly channelsFor: (release: Release) => readonly string[];
  readonly record: (input: {
    releaseId: string;
    url: string;
    user: string;
    base: string | null;
  }) => Promise<IncidentLink>;
  /** `workspace` from greenlight.yml: clicks and forms count only from there. */
  readonly workspace: () =>
    | { readonly teamId?: string; readonly enterpriseId?: string }
    | undefined;
}

/** Whether a payload comes from the configured workspace (and org); any, when none is set. */
function fromWorkspace(
  body: unknown,
  workspace: ReturnType<IncidentLinkDeps['workspace']>,
): boolean {
  const b = body as {
    team?: { id?: string } | null;
    enterprise?: { id?: string } | null;
    user?: { team_id?: string };
  };
  // In a Slack Connect channel `team` is the app's workspace; the clicker's is on the user.
  const teamId = b.user?.team_id ?? b.team?.id;
  if (workspace?.teamId !== undefined && teamId !== workspace.teamId) return false;
  return workspace?.enterpriseId === undefined || b.enterprise?.id === workspace.enterpriseId;
}

/**
 * The reminder's "Record incident link" button and its modal. The button is checked (a release
 * that was rolled back, clicked where the reminder is) before the form opens; the address is
 * checked on submit, so a bad one is answered in the form itself.
 */
export function registerIncidentLinkListeners(app: App, deps: IncidentLinkDeps): void {
  app.action<BlockButtonAction>(INCIDENT_LINK_ACTION, async ({ ack, body, action, respond }) => {
    await ack();
    const answer = (text: string, hint: string) =>
      respond({ ...ephemeral(refusalAnswer(text, hint)), replace_original: false }).catch(
        (error: unknown) => deps.logger.warn({ err: error }, 'could not answer a click'),
      );
    const id = RELEASE_ID.test(action.value ?? '') ? (action.value ?? '') : '';
    const release = id === '' ? null : await deps.getRelease(id);
    if (release === null || release.state !== 'rolled_back') {
      await answer(
        'This reminder is for a release Greenlight no longer holds as rolled back.',
        'Record the link on the incident reminder of a current rollback.',
      );
      return;
    }
    const channel = body.channel?.id ?? '';
    if (!deps.channelsFor(release).includes(channel) || !fromWorkspace(body, deps.workspace())) {
      await answer(
        'This button only counts where Greenlight posted the reminder.',
        'Use the reminder in the stakeholder channel.',
      );
      return;
    }
    try {
      await deps.client.views.open({
        trigger_id: body.trigger_id,
        view: incidentLinkModal(release, channel, await deps.currentLink(release.id)),
      });
    } catch (error) {
      deps.logger.warn({ err: error }, 'could not open the incident link form');
      await answer('Slack did not open the form.', 'Click Record incident link again.');
    }
  });

  app.view(INCIDENT_LINK_MODAL, async ({ ack, view, body }) => {
    if (!fromWorkspace(body, deps.workspace())) {
      await ack({
        response_action: 'errors',
        errors: { incident: 'This form only counts from the workspace Greenlight serves.' },
      });
      return;
    }
    const typed = view.state.values.incident?.url_input?.value ?? '';
    if (parseIncidentUrl(typed) === undefined) {
      await ack({
        response_action: 'errors',
        errors: {
          incident:
            'Paste the http(s) address of the incident report, e.g. https://incidents.example.com/123.',
        },
      });
      return;
    }
    await ack();
    let meta: { releaseId?: string; channel?: string; base?: string | null } = {};
    try {
      meta = JSON.parse(view.private_metadata) as typeof meta;
    } catch {
      // answered below as an unknown release
    }
    let reply: ReturnType<typeof answerMessage>;
    try {
      const link = await deps.record({
        releaseId: meta.releaseId ?? '',
        url: typed,
        user: body.user.id,
        base: meta.base ?? null,
      });
      reply = answerMessage({
        message: `Incident report link recorded: ${link.url}`,
        hint: 'The reminder now shows it.',
      });
    } catch (error) {
      if (!(error instanceof ReleaseError)) deps.logger.error({ err: error }, 'recording failed');
      reply =
        error instanceof ReleaseError
          ? refusalAnswer(error.message, error.hint)
          : refusalAnswer('Sorry, that failed unexpectedly. Nothing was recorded.', 'Try again.');
    }
    if (meta.channel)
      await deps.client.chat
        .postEphemeral({
          channel: meta.channel,
          user: body.user.id,
          text: reply.text,
          blocks: reply.blocks,
        })
        .catch((error: unknown) => deps.logger.warn({ err: error }, 'could not confirm'));
  });
}
