import { createServer, type Server } from 'node:http';
import type { OpsRoute } from './ops-routes.ts';

/**
 * The ops endpoints on their own server, for `worker` processes that take no Slack traffic but
 * must still be probed and scraped.
 */
export function createOpsServer(routes: readonly OpsRoute[]): Server {
  return createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const route = routes.find((r) => r.path === path && r.method === req.method);
    if (route === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
      return;
    }
    route.handler(req, res);
  });
}
