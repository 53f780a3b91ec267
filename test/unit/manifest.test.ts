import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { COMMANDS } from '../../src/adapters/slack/command-listeners.ts';

const root = new URL('../../', import.meta.url);
const manifest = parse(readFileSync(new URL('manifest.yml', root), 'utf8')) as {
  features: { slash_commands: { command: string; url: string; usage_hint?: string }[] };
  oauth_config: { scopes: { bot: string[] } };
  settings: { interactivity: { is_enabled: boolean; request_url: string } };
};

describe('manifest.yml', () => {
  it("validates against Slack's published app manifest schema", () => {
    // Slack's published schema, stored with the fixtures (see their SOURCES.md).
    const schemaPath = new URL('test/support/fixtures/slack/manifest.schema.1.0.0.json', root);
    const schema = JSON.parse(readFileSync(schemaPath, 'utf8')) as object;
    // Slack's schema uses a non-standard `regex` keyword beside `pattern`; treat it as a pattern.
    const ajv = new Ajv({ allErrors: true, strict: false });
    ajv.addKeyword({
      keyword: 'regex',
      type: 'string',
      validate: (pattern: string, value: string) => new RegExp(pattern).test(value),
    });
    const validate = ajv.compile(schema);
    const valid = validate(manifest);
    expect(validate.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
  });

  it('declares every command Greenlight answers (/flag included), each sent to /slack/events', () => {
    expect(manifest.features.slash_commands.map((c) => c.command)).toEqual(
      COMMANDS.map((c) => `/${c}`),
    );
    for (const command of manifest.features.slash_commands)
      expect(command.url).toMatch(/\/slack\/events$/);
  });

  it('gives each command a usage hint; /flag names its changes and the kill switch word', () => {
    for (const command of manifest.features.slash_commands)
      expect(command.usage_hint, command.command).toMatch(/^<service>/);
    const flag = manifest.features.slash_commands.find((c) => c.command === '/flag');
    expect(flag?.usage_hint).toBe('<service> <flag> on|off|<percent>|ramp [reason] [--dry-run]');
  });

  it('turns on interactivity (Approve, Reject, Rollback buttons) at /slack/events', () => {
    expect(manifest.settings.interactivity).toMatchObject({
      is_enabled: true,
      request_url: expect.stringMatching(/\/slack\/events$/),
    });
  });

  it('asks for the bot scopes the Web API methods Greenlight calls need', () => {
    expect(manifest.oauth_config.scopes.bot).toEqual(
      expect.arrayContaining([
        'commands',
        'chat:write',
        'users:read',
        'usergroups:read',
        'channels:read',
      ]),
    );
  });
});
