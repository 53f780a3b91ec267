import { timingSafeEqual } from 'node:crypto';
import type { AuditLog } from '../../app/ports.ts';
import { FailureRateLimit } from './failure-rate-limit.ts';
import type { OpsRoute } from './ops-routes.ts';

export interface AuditRouteOptions {
  /** Failed authentications per client address; past its limit every attempt gets 429. */
  readonly limit?: FailureRateLimit;
  /** Told of every refused attempt: `bad_token` (wrong or missing) or `rate_limited`. */
  readonly onRefused?: (outcome: 'bad_token' | 'rate_limited') => void;
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * `GET /audit`: the audit trail as JSON lines, oldest first, for a bearer token from the
 * environment. `?after=<id>` continues from the last line read, `?limit=` caps a page (≤ 10,000).
 * Wrong tokens are rate-limited per client address (the socket's peer, never a header a client
 * can set): after 5 failures in a minute, 429 with Retry-After, even for the right token.
 */
export function auditRoute(
  token: string | undefined,
  audit: AuditLog,
  options: AuditRouteOptions = {},
): OpsRoute {
  const failures = options.limit ?? new FailureRateLimit();
  return {
    path: '/audit',
    method: 'GET',
    handler: (req, res) => {
      if (token === undefined) {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('audit export is off: set GREENLIGHT_AUDIT_TOKEN to turn it on\n');
        return;
      }
      const client = req.socket.remoteAddress ?? 'unknown';
      const wait = failures.retryAfterSeconds(client);
      if (wait > 0) {
        options.onRefused?.('rate_limited');
        res.writeHead(429, { 'content-type': 'text/plain', 'retry-after': String(wait) });
        res.end(`too many failed attempts from this address; try again in ${wait} s\n`);
        return;
      }
      const header = req.headers.authorization ?? '';
      const given = header.startsWith('Bearer ') ? header.slice('Bearer '.length) : '';
      if (!sameSecret(given, token)) {
        failures.recordFailure(client);
        options.onRefused?.('bad_token');
        res.writeHead(401, { 'content-type': 'text/plain', 'www-authenticate': 'Bearer' });
        res.end('a valid bearer token is required\n');
        return;
      }
      const url = new URL(req.url ?? '/', 'http://localhost');
      const after = url.searchParams.get('after') ?? undefined;
      const limit = Math.min(
        10_000,
        Math.max(1, Number(url.searchParams.get('limit') ?? 1000) || 1000),
      );
      if (after !== undefined && !/^\d+-\d+$/.test(after)) {
        res.writeHead(400, { 'content-type': 'text/plain' });
        res.end('after must be an id from a previous line, like 1732435200000-0\n');
        return;
      }
      audit.read({ ...(after ? { afterId: after } : {}), limit }).then(
        (rows) => {
          res.writeHead(200, {
            'content-type': 'application/x-ndjson; charset=utf-8',
            'cache-control': 'no-store',
          });
          res.end(rows.map((row) => `${JSON.stringify({ id: row.id, ...row.entry })}\n`).join(''));
        },
        (error: unknown) => {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(`could not read the audit trail: ${(error as Error).message}\n`);
        },
      );
    },
  };
}
