import {
  type ButtonClick,
  blockActionsPayload,
  interactionBody,
  type SlashCommandFields,
  slashCommandBody,
} from './slack-payloads.ts';
import { signedHeaders } from './slack-signing.ts';

export interface SlackReply {
  readonly status: number;
  readonly elapsedMs: number;
  /** The HTTP response body, parsed as JSON when it is JSON (an ack with a message). */
  readonly body: unknown;
}

/** Sends requests to a running app the way Slack does: signed, form-encoded, to /slack/events. */
export class SlackSender {
  private readonly appUrl: string;
  private readonly signingSecret: string;

  constructor(appUrl: string, signingSecret: string) {
    this.appUrl = appUrl;
    this.signingSecret = signingSecret;
  }

  async post(
    rawBody: string,
    headers: Record<string, string> = signedHeaders(this.signingSecret, rawBody),
  ): Promise<SlackReply> {
    const started = performance.now();
    const res = await fetch(`${this.appUrl}/slack/events`, {
      method: 'POST',
      headers,
      body: rawBody,
    });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = text === '' ? '' : JSON.parse(text);
    } catch {
      // plain-text body (Bolt answers some errors in text)
    }
    return { status: res.status, elapsedMs: performance.now() - started, body };
  }

  slashCommand(fields: SlashCommandFields): Promise<SlackReply> {
    return this.post(slashCommandBody(fields));
  }

  click(click: ButtonClick): Promise<SlackReply> {
    return this.post(interactionBody(blockActionsPayload(click)));
  }
}
