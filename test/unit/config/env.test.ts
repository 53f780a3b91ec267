import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/config/config-error.ts';
import { readEnv, usesSocketMode } from '../../../src/config/env.ts';

const base = { SLACK_BOT_TOKEN: 'xoxb-1-2-abc', SLACK_SIGNING_SECRET: 'signing-secret-123' };

function problems(env: Record<string, string>): string[] {
  try {
    readEnv(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((p) => `${p.path}: ${p.message}`);
    throw error;
  }
  return [];
}

describe('readEnv', () => {
  it('applies the documented defaults', () => {
    const env = readEnv(base);
    expect(env).toMatchObject({
      SLACK_API_URL: 'https://slack.com/api/',
      REDIS_URL: 'redis://127.0.0.1:6379',
      PORT: 3000,
      GREENLIGHT_CONFIG: './greenlight.yml',
      GREENLIGHT_ROLE: 'all',
      LOG_LEVEL: 'info',
      GREENLIGHT_KEY_PREFIX: 'greenlight',
    });
    expect(usesSocketMode(env)).toBe(false);
  });

  it('uses Socket Mode when an app token is set, and then needs no signing secret', () => {
    const env = readEnv({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_APP_TOKEN: 'xapp-1-A-1-abc' });
    expect(usesSocketMode(env)).toBe(true);
  });

  it('normalises SLACK_API_URL to end with a slash, as WebClient expects', () => {
    expect(readEnv({ ...base, SLACK_API_URL: 'http://127.0.0.1:9000/api' }).SLACK_API_URL).toBe(
      'http://127.0.0.1:9000/api/',
    );
  });

  it('lists every problem at once, with the variable and what is expected', () => {
    const found = problems({
      SLACK_BOT_TOKEN: 'xoxp-user-token',
      PORT: 'eighty',
      GREENLIGHT_ROLE: 'scheduler',
      REDIS_URL: 'localhost:6379',
    });
    expect(found).toEqual(
      expect.arrayContaining([
        'SLACK_BOT_TOKEN: expected a bot token starting with xoxb-',
        expect.stringMatching(/^PORT: expected a port number/),
        expect.stringMatching(
          /^GREENLIGHT_ROLE: expected one of all, web, worker, got "scheduler"/,
        ),
        expect.stringMatching(/^REDIS_URL: expected a redis:\/\/ or rediss:\/\/ URL$/),
        'SLACK_SIGNING_SECRET: required in HTTP mode (set SLACK_APP_TOKEN instead to use Socket Mode)',
      ]),
    );
  });

  it('never echoes a secret value back in an error', () => {
    const found = problems({
      SLACK_BOT_TOKEN: 'xoxp-very-secret-user-token',
      SLACK_SIGNING_SECRET: 'x',
    });
    expect(found.join('\n')).not.toContain('very-secret');
  });

  it.each([
    [undefined, false],
    ['', false],
    ['  ', false],
    ['false', false],
    ['0', false],
    ['true', true],
    ['1', true],
    ['TRUE', true],
  ])('reads GREENLIGHT_ALLOW_EVICTION=%j as %s', (value, expected) => {
    const env = value === undefined ? base : { ...base, GREENLIGHT_ALLOW_EVICTION: value };
    expect(readEnv(env).GREENLIGHT_ALLOW_EVICTION).toBe(expected);
  });

  it('refuses a GREENLIGHT_ALLOW_EVICTION that is not a yes or no', () => {
    expect(problems({ ...base, GREENLIGHT_ALLOW_EVICTION: 'yes please' })).toEqual([
      'GREENLIGHT_ALLOW_EVICTION: expected true or false (or 1 or 0), got "yes please"',
    ]);
  });

  it('says what to set when the bot token is missing', () => {
    expect(problems({ SLACK_SIGNING_SECRET: 'signing-secret-123' })).toEqual([
      'SLACK_BOT_TOKEN: required: the bot token (xoxb-...) from your Slack app',
    ]);
  });
});

describe('OPS_PORT', () => {
  it('is unset by default: the ops endpoints stay on PORT', () => {
    expect(readEnv(base).OPS_PORT).toBeUndefined();
    expect(readEnv({ ...base, OPS_PORT: '' }).OPS_PORT).toBeUndefined();
  });

  it('takes a port of its own', () => {
    expect(readEnv({ ...base, OPS_PORT: '9090' }).OPS_PORT).toBe(9090);
  });

  it('refuses the same port as PORT, and what is not a port', () => {
    expect(problems({ ...base, PORT: '3000', OPS_PORT: '3000' })).toEqual([
      'OPS_PORT: must differ from PORT (unset it to serve the ops endpoints on PORT), got "3000"',
    ]);
    expect(problems({ ...base, OPS_PORT: '70000' })).toEqual([
      'OPS_PORT: expected a port number from 1 to 65535, got "70000"',
    ]);
  });
});
