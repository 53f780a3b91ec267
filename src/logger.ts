import type { Logger as BoltLogger, LogLevel as BoltLogLevel } from '@slack/bolt';
import { type DestinationStream, type Logger, pino } from 'pino';

/** Slack tokens and anything shaped like a credential in a URL, scrubbed from every log line. */
const TOKEN_PATTERN = /\b(xox[abposr]|xapp)-[A-Za-z0-9-]+/g;
const URL_CREDENTIALS = /\/\/([^/\s:@]*):([^/\s@]+)@/g;

export function scrubSecrets(text: string): string {
  return text.replace(TOKEN_PATTERN, '$1-[REDACTED]').replace(URL_CREDENTIALS, '//$1:[REDACTED]@');
}

const REDACT_PATHS = [
  'token',
  'botToken',
  'appToken',
  'signingSecret',
  'secret',
  'password',
  'authorization',
  '*.token',
  '*.botToken',
  '*.appToken',
  '*.signingSecret',
  '*.secret',
  '*.password',
  'headers.authorization',
  '*.headers.authorization',
  'headers["x-slack-signature"]',
  'env.SLACK_BOT_TOKEN',
  'env.SLACK_SIGNING_SECRET',
  'env.SLACK_APP_TOKEN',
  'env.REDIS_URL',
  'env.GREENLIGHT_AUDIT_TOKEN',
];

export type AppLogger = Logger;

export function createLogger(level: string, destination?: DestinationStream): AppLogger {
  return pino(
    {
      level,
      base: { service: 'greenlight' },
      redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
      hooks: {
        // Strings (messages, interpolated args) can carry a token even when no key names it.
        logMethod(args, method) {
          const scrubbed = args.map((arg) => (typeof arg === 'string' ? scrubSecrets(arg) : arg));
          return method.apply(this, scrubbed as Parameters<typeof method>);
        },
      },
      serializers: { err: pino.stdSerializers.err },
    },
    destination,
  );
}

function joinArgs(args: unknown[]): string {
  return args
    .map((arg) => {
      if (typeof arg === 'string') return arg;
      if (arg instanceof Error) return arg.stack ?? arg.message;
      try {
        return JSON.stringify(arg);
      } catch {
        return String(arg);
      }
    })
    .join(' ');
}

/** Routes Bolt's (and its WebClient's) logging through pino, so every line is JSON and scrubbed. */
export function boltLoggerFrom(logger: AppLogger): BoltLogger {
  let child = logger.child({ component: 'bolt' });
  let level = 'info' as BoltLogLevel;
  return {
    debug: (...args) => child.debug(joinArgs(args)),
    info: (...args) => child.info(joinArgs(args)),
    warn: (...args) => child.warn(joinArgs(args)),
    error: (...args) => child.error(joinArgs(args)),
    // Bolt sets its own level at construction; pino's configured level stays in charge.
    setLevel: (next) => {
      level = next;
    },
    getLevel: () => level,
    setName: (name) => {
      child = logger.child({ component: name });
    },
  };
}
