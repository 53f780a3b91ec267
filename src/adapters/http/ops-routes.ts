import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';

export interface OpsRoute {
  path: string;
  method: string;
  handler: (req: IncomingMessage, res: ServerResponse) => void;
}

export interface ReadinessCheck {
  readonly name: string;
  /** Resolves to an error message when not ready, undefined when fine. Must not throw. */
  readonly check: () => Promise<string | undefined>;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
  });
  res.end(JSON.stringify(body));
}

/**
 * A dependency watched but not waited for: `/readyz` shows its last known state beside the
 * checks without letting it decide readiness (Slack: an outage there must not take every replica
 * out of a load balancer). `status()` must answer at once, from memory.
 */
export interface ObservedDependency {
  readonly name: string;
  status(): string;
}

/**
 * `/healthz` (alive), `/readyz` (every check passes; observed dependencies are reported, never
 * decisive), `/metrics` (Prometheus text).
 */
export function opsRoutes(
  checks: readonly ReadinessCheck[],
  registry: Registry,
  observed: readonly ObservedDependency[] = [],
): OpsRoute[] {
  return [
    {
      path: '/healthz',
      method: 'GET',
      handler: (_req, res) => sendJson(res, 200, { status: 'ok' }),
    },
    {
      path: '/readyz',
      method: 'GET',
      handler: (_req, res) => {
        void Promise.all(checks.map(async (c) => [c.name, await c.check()] as const)).then(
          (results) => {
            const failures = Object.fromEntries(results.filter(([, error]) => error !== undefined));
            const ready = Object.keys(failures).length === 0;
            sendJson(res, ready ? 200 : 503, {
              status: ready ? 'ready' : 'not ready',
              checks: Object.fromEntries(results.map(([name, error]) => [name, error ?? 'ok'])),
              ...(observed.length > 0
                ? { observed: Object.fromEntries(observed.map((d) => [d.name, d.status()])) }
                : {}),
            });
          },
        );
      },
    },
    {
      path: '/metrics',
      method: 'GET',
      handler: (_req, res) => {
        void registry.metrics().then(
          (text) => {
            res.writeHead(200, { 'content-type': registry.contentType });
            res.end(text);
          },
          (error: unknown) => sendJson(res, 500, { error: String(error) }),
        );
      },
    },
  ];
}
