import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { slackSignature } from '../../../testkit/slack-signing.ts';

const fixture = (name: string) => new URL(`../../support/fixtures/slack/${name}`, import.meta.url);

describe('slackSignature (the signing every signed test request relies on)', () => {
  it("matches the known-answer vector from Slack's documentation", () => {
    const vector = JSON.parse(readFileSync(fixture('signing-test-vector.json'), 'utf8')) as {
      signing_secret: string;
      headers: Record<string, string>;
      body_file: string;
    };
    const body = readFileSync(fixture(vector.body_file), 'utf8');
    const timestamp = Number(vector.headers['X-Slack-Request-Timestamp']);
    expect(slackSignature(vector.signing_secret, timestamp, body)).toBe(
      vector.headers['X-Slack-Signature'],
    );
  });
});
