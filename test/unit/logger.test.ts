import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { boltLoggerFrom, createLogger, scrubSecrets } from '../../src/logger.ts';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
      done();
    },
  });
  return { lines, logger: createLogger('debug', stream) };
}

describe('logging', () => {
  it('redacts secrets held under known keys', () => {
    const { lines, logger } = capture();
    logger.info(
      {
        token: 'xoxb-1',
        env: { SLACK_SIGNING_SECRET: 's3cret' },
        headers: { authorization: 'Bearer xoxb-2' },
      },
      'hello',
    );
    expect(JSON.stringify(lines)).not.toMatch(/xoxb-1|s3cret|xoxb-2/);
    expect(lines[0]).toMatchObject({ token: '[REDACTED]', msg: 'hello' });
  });

  it('scrubs tokens and URL passwords from message text, wherever they appear', () => {
    expect(scrubSecrets('calling with xoxb-123-456-abcDEF and xapp-1-A0-99')).toBe(
      'calling with xoxb-[REDACTED] and xapp-[REDACTED]',
    );
    expect(scrubSecrets('redis://:hunter2@10.0.0.1:6379')).toBe(
      'redis://:[REDACTED]@10.0.0.1:6379',
    );
  });

  it("routes Bolt's log calls through pino as JSON, scrubbed", () => {
    const { lines, logger } = capture();
    const bolt = boltLoggerFrom(logger);
    bolt.warn('http request failed for token', 'xoxb-999-secret', { status: 500 });
    bolt.setName('web-api:WebClient');
    bolt.error(new Error('boom'));
    expect(lines[0]).toMatchObject({ level: 40, component: 'bolt' });
    expect(String(lines[0]?.msg)).toBe(
      'http request failed for token xoxb-[REDACTED] {"status":500}',
    );
    expect(lines[1]).toMatchObject({ level: 50, component: 'web-api:WebClient' });
    expect(String(lines[1]?.msg)).toContain('Error: boom');
  });
});
